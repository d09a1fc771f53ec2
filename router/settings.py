"""Settings for every entry point, read from ``ASKAROUND_*`` environment variables.

Built explicitly by the caller (``Settings()``) and passed down; nothing reads them at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """One place for every knob; the CLI, the HTTP app and the bot build exactly one of these."""

    model_config = SettingsConfigDict(env_prefix="ASKAROUND_", extra="ignore")

    data_dir: Path = Field(
        default=Path("./data"), description="Where the SQLite file and indexes live."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in data_dir."
    )
    model_name: str = Field(
        # int8 weights, 128 tokens (the length the model was trained on): 2.7x faster to embed
        # than all-MiniLM-L6-v2 as published, routing level with it (docs/ranking.md)
        default="all-MiniLM-L6-v2-int8-128",
        description="A sentence-transformers model: a name from models/manifest.json or a directory.",
    )
    models_dir: Path = Field(
        default=Path(__file__).resolve().parents[1] / "models",
        description="The models/ folder: manifest.json of named models, and local artefacts.",
    )
    encoder: Literal["auto", "onnx", "torch"] = Field(
        default="auto",
        description="Run the model on ONNX Runtime (exported once into models/) or torch; "
        "auto picks ONNX when onnxruntime is installed and the model fits.",
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    torch_threads: int = Field(default=2, ge=1, le=64)
    faiss_threads: int = Field(default=1, ge=1, le=64)
    encoder_threads: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="ONNX Runtime threads for bulk encoding (imports, index builds from rows); "
        "default every core this process may use. A query always encodes on one thread.",
    )
    exact_index_max: int = Field(
        default=50_000,
        ge=0,
        description="Above this many vectors a network's index goes approximate (HNSW).",
    )
    hnsw_m: int = Field(default=32, ge=4, le=128)
    # efSearch 512: recall@100 ≈ .87 on hard synthetic vectors, under a millisecond at 100k
    hnsw_ef_search: int = Field(default=512, ge=8, le=4096)
    index_check_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How often a cached index checks the evidence change log (one index probe).",
    )
    change_log_keep: int = Field(
        default=100_000,
        ge=100,
        description="Change-log entries `tick` keeps per network; an index further behind "
        "rebuilds from the evidence rows instead of catching up.",
    )
    index_save_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How often `serve` writes changed indexes to the data directory.",
    )

    default_k: int = Field(default=3, ge=1, le=50)
    max_k: int = Field(default=50, ge=1, le=200)
    max_question_chars: int = Field(
        default=40_000, ge=16, description="Slack accepts 40,000 characters; so does routing."
    )
    learned_ranking: bool = Field(
        default=True,
        description="Rank with the learned model (models/ranker/) when there is one; "
        "off means the hand-set blend.",
    )
    reuse_min_similarity: float = Field(
        default=0.65,
        ge=0,
        le=1,
        description="How close a past answer's thread must be to a question to be shown first "
        "(cosine; `askaround eval reuse` prints found and false-shown rates per floor; 1 turns "
        "reuse off).",
    )

    # email (router.delivery.email) and the answer links it carries
    smtp_host: str | None = Field(default=None, description="SMTP server for the email channel.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = Field(default=None, description="From address, e.g. ask@example.org.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where `askaround serve` is reached from outside: links in emails start here.",
    )
    link_secret: str | None = Field(
        default=None, description="Signs answer links in emails (16+ random characters)."
    )
    link_ttl_hours: float = Field(default=168.0, gt=0, description="How long an answer link works.")

    # lifecycle and fairness
    answer_timeout_hours: float = Field(default=24.0, gt=0)
    max_rounds: int = Field(default=3, ge=1, le=10)
    question_ttl_days: float = Field(default=7.0, gt=0)
    weekly_ask_budget: int = Field(default=3, ge=0, le=100)
    rest_hours: float = Field(default=12.0, ge=0)
    fairness: bool = True

    @model_validator(mode="after")
    def _k_fits(self) -> Settings:
        if self.default_k > self.max_k:
            raise ValueError(f"default_k ({self.default_k}) is above max_k ({self.max_k})")
        return self

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        folder = value.expanduser()
        if folder.exists() and not folder.is_dir():  # else every command fails on mkdir
            raise ValueError(f"{str(folder)!r} is not a folder")
        return folder

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'askaround.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"
