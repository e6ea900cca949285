"""Alembic migrations for both databases (SQLite and PostgreSQL); see service/migrate.py."""
