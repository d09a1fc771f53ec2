"""Storage: engines and sessions, the tables, Alembic migrations, insert-once helpers."""
