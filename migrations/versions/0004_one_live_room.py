"""room: at most one live (scheduled or open) room of each kind per case

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:00:00.000000

A partial unique index on (case_id, kind) where status is scheduled or open, so two
concurrent requests cannot both open a room for one case (the service's own check cannot
see the other transaction). Both PostgreSQL and SQLite have partial indexes.

A database made before this revision may already hold two live rooms of one case (the bug
this fixes). The index cannot be built over them, so every live room but the newest of its
case and kind is closed first, with a room event saying why: those are the rooms parties
and mediators were waiting in apart, and the newest is the one the case page will offer. The
audit chain is not written here (its links are made by the service, hashed in order); the
room events record the closing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = "status IN ('scheduled', 'open')"

# Live rooms that have a newer live room of the same case and kind.
SUPERSEDED = (
    "SELECT r.id FROM room r WHERE r.status IN ('scheduled', 'open') AND EXISTS ("
    " SELECT 1 FROM room n WHERE n.case_id = r.case_id AND n.kind = r.kind"
    " AND n.status IN ('scheduled', 'open') AND n.id > r.id)"
)


def upgrade() -> None:
    bind = op.get_bind()
    superseded = [row[0] for row in bind.execute(sa.text(SUPERSEDED))]
    for room_id in superseded:
        bind.execute(
            sa.text(
                "INSERT INTO room_event (room_id, at, kind, data)"
                " VALUES (:room_id, CURRENT_TIMESTAMP, 'close',"
                " '{\"reason\": \"superseded\"}')"
            ),
            {"room_id": room_id},
        )
        bind.execute(
            sa.text(
                "UPDATE room SET status = 'closed', closed_at = CURRENT_TIMESTAMP"
                " WHERE id = :room_id"
            ),
            {"room_id": room_id},
        )
    op.create_index(
        "uq_room_live",
        "room",
        ["case_id", "kind"],
        unique=True,
        postgresql_where=sa.text(LIVE),
        sqlite_where=sa.text(LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_room_live", table_name="room")
