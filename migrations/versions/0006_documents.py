"""document and seal_key: the files the service issued, and each organisation's seal

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 10:00:00.000000

document: one row per issued file (a sealed agreement, later a ruling), named by its
SHA-256 and its verification code, both unique, so verification finds it by either.
seal_key: one electronic seal per organisation (the primary key decides a race between two
first uses).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document",
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
        sa.CheckConstraint("kind IN ('agreement', 'ruling')", name=op.f("ck_document_kind")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"],
            name=op.f("fk_document_case_id_mediation_case"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"],
            name=op.f("fk_document_org_id_organisation"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document")),
        sa.UniqueConstraint("sha256", name=op.f("uq_document_sha256")),
        sa.UniqueConstraint("code", name=op.f("uq_document_code")),
    )
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_document_case_id"), ["case_id"], unique=False)

    op.create_table(
        "seal_key",
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("cert_pem", sa.Text(), nullable=False),
        sa.Column("key_pem", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "source IN ('generated', 'configured')", name=op.f("ck_seal_key_source")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"],
            name=op.f("fk_seal_key_org_id_organisation"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_seal_key")),
    )


def downgrade() -> None:
    op.drop_table("seal_key")
    with op.batch_alter_table("document", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_case_id"))
    op.drop_table("document")
