"""document kind 'record' (the mediation record sent with an application); notice (in-app)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:00:00.000000

The mediation record that goes with an application for confirmation is issued like the
agreement and the ruling (verifiable by hash and code), so the document table's CHECK on
``kind`` admits 'record'. SQLite cannot alter a CHECK: the table is rebuilt from its full
definition here (``copy_from``), keeping its other constraints and its index.

``notice``: what each party was told (service/inbox.py), listed on their case page.

``ix_confirmation_court_status``: the court queue's total is counted from the index alone.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "kind IN ('agreement', 'ruling')"
NEW = "kind IN ('agreement', 'ruling', 'record')"


def _document(kinds: str) -> sa.Table:
    return sa.Table(
        "document",
        sa.MetaData(),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(kinds, name="ck_document_kind"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"],
            name="fk_document_case_id_mediation_case", ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"],
            name="fk_document_org_id_organisation", ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_document"),
        sa.UniqueConstraint("sha256", name="uq_document_sha256"),
        sa.UniqueConstraint("code", name="uq_document_code"),
        sa.Index("ix_document_case_id", "case_id"),
    )  # fmt: skip


def _kinds(kinds: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("document", copy_from=_document(kinds), recreate="always"):
            pass
    else:
        op.drop_constraint(op.f("ck_document_kind"), "document", type_="check")
        op.create_check_constraint(op.f("ck_document_kind"), "document", kinds)


def upgrade() -> None:
    _kinds(NEW)
    op.create_table(
        "notice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=60), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=300), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"], name=op.f("fk_notice_party_id_party"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice")),
    )
    op.create_index("ix_notice_party", "notice", ["party_id", "id"], unique=False)
    op.create_index(
        "ix_confirmation_court_status",
        "confirmation_application",
        ["court_id", "status"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_confirmation_court_status", table_name="confirmation_application")
    op.drop_index("ix_notice_party", table_name="notice")
    op.drop_table("notice")
    op.execute("DELETE FROM document WHERE kind = 'record'")
    _kinds(OLD)
