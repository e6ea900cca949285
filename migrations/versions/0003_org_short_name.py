"""organisations: short_name (简称) for case numbers, formerly code

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:00:00.000000

The column kept its meaning (the unique name that case numbers carry) and got the name the
API and the command line use. Existing values stay as they are: numbers already issued
must not change, and an organisation's later numbers keep the form its earlier ones had.
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rename(old: str, new: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("organisation", old, new_column_name=new)
        op.execute(
            f"ALTER TABLE organisation RENAME CONSTRAINT uq_organisation_{old}"
            f" TO uq_organisation_{new}"
        )
        return
    # Not batch mode: it recreates the table, and dropping the old one fails on the
    # ON DELETE RESTRICT references of every case and account (foreign keys are on, and
    # cannot be turned off inside the migration's transaction). SQLite renames a column in
    # place; the unique constraint follows the column but keeps its name, which is text in
    # the stored CREATE TABLE. Renaming it there changes nothing on disk, the case SQLite's
    # documentation allows writable_schema for (lang_altertable.html, "otheralter").
    op.execute(f"ALTER TABLE organisation RENAME COLUMN {old} TO {new}")
    bind = op.get_bind()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?)"
        " WHERE type = 'table' AND name = 'organisation'",
        (f"CONSTRAINT uq_organisation_{old} ", f"CONSTRAINT uq_organisation_{new} "),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    _rename("code", "short_name")


def downgrade() -> None:
    _rename("short_name", "code")
