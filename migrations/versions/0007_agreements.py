"""agreement, agreement_version, signature: the agreement, its immutable versions, signatures

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-11 10:00:00.000000

One live (not void) agreement per case, by a partial unique index as for rooms (0004); each
version numbered once per agreement; each signer once per version.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status != 'void'"


def upgrade() -> None:
    op.create_table(
        "agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("signing_version", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("document_sha256", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'signing', 'effective', 'void')",
            name=op.f("ck_agreement_status"),
        ),
        sa.CheckConstraint("latest_version >= 1", name=op.f("ck_agreement_latest_version")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["mediation_case.id"],
            name=op.f("fk_agreement_case_id_mediation_case"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"],
            name=op.f("fk_agreement_created_by_user_account"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement")),
    )
    op.create_index("ix_agreement_case_id", "agreement", ["case_id"])
    op.create_index(
        "uq_agreement_live",
        "agreement",
        ["case_id"],
        unique=True,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )
    op.create_table(
        "agreement_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"],
            name=op.f("fk_agreement_version_agreement_id_agreement"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"],
            name=op.f("fk_agreement_version_created_by_user_account"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreement_version")),
        sa.UniqueConstraint("agreement_id", "number", name="uq_agreement_version"),
    )
    op.create_table(
        "signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("signer_name", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("typed_name", sa.String(length=100), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("voided_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("method IN ('drawn', 'typed')", name=op.f("ck_signature_method")),
        sa.CheckConstraint(
            "(party_id IS NULL) != (user_id IS NULL)", name=op.f("ck_signature_signer")
        ),
        sa.CheckConstraint(
            "(method = 'drawn' AND image_sha256 IS NOT NULL)"
            " OR (method = 'typed' AND typed_name IS NOT NULL)",
            name=op.f("ck_signature_mark"),
        ),
        sa.ForeignKeyConstraint(
            ["agreement_id"], ["agreement.id"],
            name=op.f("fk_signature_agreement_id_agreement"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["agreement_version.id"],
            name=op.f("fk_signature_version_id_agreement_version"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["party_id"], ["party.id"],
            name=op.f("fk_signature_party_id_party"), ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"],
            name=op.f("fk_signature_user_id_user_account"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature")),
        sa.UniqueConstraint("version_id", "party_id", name="uq_signature_party"),
        sa.UniqueConstraint("version_id", "user_id", name="uq_signature_user"),
    )
    op.create_index("ix_signature_agreement", "signature", ["agreement_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_signature_agreement", table_name="signature")
    op.drop_table("signature")
    op.drop_table("agreement_version")
    op.drop_index("uq_agreement_live", table_name="agreement")
    op.drop_index("ix_agreement_case_id", table_name="agreement")
    op.drop_table("agreement")
