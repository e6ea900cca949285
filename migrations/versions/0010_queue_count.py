"""confirmation_queue_count: each court's number of applications in each state

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:45:00.000000

The court queue's total was counted on every page: 7-10 ms from ix_confirmation_court_status
for a court with 80,000 applications, more than the page itself (bench/queue.py). The counts
are now kept by every move of an application (confirmation/queue.py ``moved``), filled here
from the rows already there, and the index that served the count is dropped.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "status IN ('awaiting_consent', 'queued', 'accepted', 'claimed', 'supplement_requested', "
    "'confirmed', 'rejected', 'not_accepted', 'withdrawn')"
)


def upgrade() -> None:
    op.create_table(
        "confirmation_queue_count",
        sa.Column("court_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.CheckConstraint(STATUSES, name=op.f("ck_confirmation_queue_count_status")),
        sa.ForeignKeyConstraint(
            ["court_id"],
            ["organisation.id"],
            name=op.f("fk_confirmation_queue_count_court_id_organisation"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("court_id", "status", name=op.f("pk_confirmation_queue_count")),
    )
    op.execute(
        "INSERT INTO confirmation_queue_count (court_id, status, n) "
        "SELECT court_id, status, count(*) FROM confirmation_application "
        "GROUP BY court_id, status"
    )
    op.drop_index("ix_confirmation_court_status", table_name="confirmation_application")


def downgrade() -> None:
    op.create_index(
        "ix_confirmation_court_status",
        "confirmation_application",
        ["court_id", "status"],
        unique=False,
    )
    op.drop_table("confirmation_queue_count")
