"""Settings for every entry point, read from ``ASKAROUND_*`` environment variables.

Built explicitly by the caller (``Settings()``) and passed down; nothing reads them at import time.
"""

from __future__ import annotations

from pathlib import Path

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
        default="all-MiniLM-L6-v2",
        description="A sentence-transformers model: a name the model package provides or a directory.",
    )
    models_dir: Path = Field(
        default=Path(__file__).resolve().parents[1] / "models",
        description="The models/ folder: manifest.json of named models, and local artefacts.",
    )
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)
    torch_threads: int = Field(default=2, ge=1, le=64)
    faiss_threads: int = Field(default=1, ge=1, le=64)
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
        description="How often a cached index re-checks the database for changes.",
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
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite inside ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'askaround.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"
