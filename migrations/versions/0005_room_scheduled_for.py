"""room: scheduled_for, the time a room's meeting is set for

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 10:00:00.000000

Nullable: rooms opened before this revision, and rooms opened without a time, have none.
Indexed, because the reminders' task looks for the scheduled rooms still ahead.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("room", sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_room_scheduled_for", "room", ["scheduled_for"])


def downgrade() -> None:
    op.drop_index("ix_room_scheduled_for", table_name="room")
    # SQLite (3.35+) drops a column in place, unlike a rename or a constraint change.
    op.drop_column("room", "scheduled_for")
