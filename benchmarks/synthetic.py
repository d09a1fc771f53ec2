"""Synthetic networks for the benchmarks: topic-clustered unit vectors and text drawn from a tech
vocabulary, inserted in bulk, so size can be measured without embedding 100k real texts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import insert, text

from router.network import people
from router.storage.database import Database
from router.storage.schema import Evidence

NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)
WORDS = [
    "grafana",
    "prometheus",
    "kubernetes",
    "terraform",
    "dbt",
    "snowflake",
    "bigquery",
    "stripe",
    "airflow",
    "kafka",
    "postgres",
    "redis",
    "react",
    "django",
    "fastapi",
    "pytorch",
    "mlflow",
    "amplitude",
    "segment",
    "looker",
    "tableau",
    "datadog",
    "sentry",
    "pagerduty",
    "jenkins",
    "github",
    "gitlab",
    "docker",
    "helm",
    "istio",
    "spark",
    "flink",
    "pandas",
    "numpy",
    "scala",
    "golang",
    "rust",
    "billing",
    "invoices",
    "churn",
    "retention",
    "funnel",
    "cohort",
    "experiment",
    "hiring",
    "onboarding",
    "interview",
    "roadmap",
    "pricing",
    "security",
    "compliance",
    "gdpr",
    "soc2",
    "latency",
    "caching",
    "queue",
    "index",
    "migration",
    "backup",
    "replica",
    "dashboard",
    "alert",
    "metric",
    "trace",
    "log",
    "deploy",
    "rollback",
    "canary",
    "schema",
    "model",
    "pipeline",
    "warehouse",
]
QUERIES = [
    "what tool do you use to analyse retention cohorts?",
    "how do you tune noisy grafana alerts at night?",
    "dbt incremental models on snowflake, any advice?",
    "which payment provider handles EU VAT?",
    "how do you run postgres migrations without downtime?",
    "kafka or kinesis for event streaming?",
    "how do you interview senior engineers?",
    "best way to deploy pytorch models behind an api?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def populate(
    database: Database,
    *,
    size: int,
    dimension: int,
    name: str,
    model: str,  # the routing embedder's name: vectors of another model are not searched
    id_prefix: str = "b:",
    team_id: str | None = None,
    seed: int = 7,
) -> tuple[int, int]:
    """A network of ``size`` synthetic evidence rows over size/20 people: (network id, people)."""
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    centres = rng.standard_normal((200, dimension)).astype(np.float32)
    with database.transaction() as session:
        network = people.ensure_network(session, name=name, now=NOW)
        if team_id is not None:
            network.slack_team_id = team_id
        person_ids = [
            people.ensure_person(
                session,
                network_id=network.id,
                external_ids=[f"{id_prefix}{n:06d}"],
                display_name=f"Person {n}",
                now=NOW,
            ).id
            for n in range(max(size // 20, 10))
        ]
        for start in range(0, size, 5000):
            rows = []
            for n in range(start, min(size, start + 5000)):
                vector = centres[n % 200] + 0.6 * rng.standard_normal(dimension).astype(np.float32)
                vector /= np.linalg.norm(vector)
                rows.append(
                    {
                        "network_id": network.id,
                        "person_id": pick.choice(person_ids),
                        "kind": "answer",
                        "text": " ".join(pick.choices(WORDS, k=30)),
                        "context": " ".join(pick.choices(WORDS, k=8)),
                        "source": "bench",
                        "weight": 1.0,
                        "created_at": NOW - timedelta(days=pick.randint(1, 900)),
                        "embedding": vector.astype(np.float32).tobytes(),
                        "embedding_model": model,
                    }
                )
            session.execute(insert(Evidence), rows)
        result = network.id, len(person_ids)
    if database.engine.dialect.name == "postgresql":
        # Steady state, as autovacuum would leave it: statistics and a visibility map.
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE evidence"))
    return result
