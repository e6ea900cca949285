"""mediation_case: the referring court and the subject matter's region; two more bases

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 17:00:00.000000

CPL 205's other competent courts: the court that referred the case to the committee
(``referred_by_court_id``, then the only one) and the basic court where the subject matter
is (``subject_region``, a county-level region code). confirmation_application's CHECK on
``basis`` admits 'subject_matter' and 'invited_by_court'.

On SQLite neither table is rebuilt (batch mode): dropping the old mediation_case or
confirmation_application fails on the ON DELETE RESTRICT references to their rows, as in
0003 and 0008. The columns are added in place and the reference's named constraint written
into the stored CREATE TABLE (every value is NULL, so none can break it); the CHECK is
widened there too, which every stored row already satisfies.
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK = "fk_mediation_case_referred_by_court_id_organisation"
_FK_SQL = (
    f", \n\tCONSTRAINT {FK} FOREIGN KEY(referred_by_court_id)"
    " REFERENCES organisation (id) ON DELETE RESTRICT\n"
)
CHECK = "ck_confirmation_application_basis"
OLD = "basis IN ('committee_location', 'party_domicile')"
NEW = "basis IN ('committee_location', 'party_domicile', 'subject_matter', 'invited_by_court')"


def _edit_sql(table: str, edit: Callable[[str], str]) -> None:
    """Rewrite a table's stored CREATE TABLE (SQLite), for a change that leaves every row
    as it is on disk (lang_altertable.html, "otheralter")."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    edited = edit(sql)
    if edited == sql:
        raise RuntimeError(f"{table}: the stored CREATE TABLE is not the one 0011 expects")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (edited, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def _bases(old: str, new: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _edit_sql("confirmation_application", lambda sql: sql.replace(old, new))
    else:
        op.drop_constraint(op.f(CHECK), "confirmation_application", type_="check")
        op.create_check_constraint(op.f(CHECK), "confirmation_application", new)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE mediation_case ADD COLUMN referred_by_court_id INTEGER")
        op.execute("ALTER TABLE mediation_case ADD COLUMN subject_region VARCHAR(6)")
        _edit_sql("mediation_case", lambda sql: sql[: sql.rstrip().rfind(")")] + _FK_SQL + ")")
    else:
        op.add_column(
            "mediation_case", sa.Column("referred_by_court_id", sa.Integer(), nullable=True)
        )
        op.add_column(
            "mediation_case", sa.Column("subject_region", sa.String(length=6), nullable=True)
        )
        op.create_foreign_key(
            FK, "mediation_case", "organisation", ["referred_by_court_id"], ["id"],
            ondelete="RESTRICT",
        )  # fmt: skip
    _bases(OLD, NEW)


def downgrade() -> None:
    # An application made on a basis 0010 does not know cannot be kept there, and cannot be
    # deleted (its consents, decisions and documents refer to it): the operator decides.
    made = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT count(*) FROM confirmation_application"
            " WHERE basis IN ('subject_matter', 'invited_by_court')"
        )
        .scalar_one()
    )
    if made:
        raise RuntimeError(
            f"{made} confirmation application(s) name a court competent by the subject"
            " matter's place or by referral, which revision 0010 cannot record; not downgraded"
        )
    _bases(NEW, OLD)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(FK, "mediation_case", type_="foreignkey")
    else:  # SQLite drops no column a constraint names: the constraint's text goes first
        _edit_sql("mediation_case", lambda sql: sql.replace(_FK_SQL, ""))
    op.drop_column("mediation_case", "subject_region")
    op.drop_column("mediation_case", "referred_by_court_id")
