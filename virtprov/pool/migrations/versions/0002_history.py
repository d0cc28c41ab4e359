"""History that does not weigh: partial indexes on live rows, and lease renewal times.

Revision ID: 0002
Revises: 0001

The pool's queries read live rows only, through partial indexes, so decided launches
and gone guests (history, kept for ``[pool] history_days``) never slow them down; two
more indexes serve pruning (history by age) and ``virtprov why`` (a recipe's guests).
``launchers.renewed_at`` tells an operator how long ago each launcher renewed its lease.

The predicates are written out here (a migration must not change when the schema module
does) exactly as SQLAlchemy renders the schema module's conditions, so that the planner
matches the journal's queries to them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LIVE = "state IN ('queued', 'creating', 'building', 'starting')"
DECIDED = "state = 'decided'"
HELD = "state IN ('creating', 'live', 'doomed', 'destroyed')"


def _partial(name: str, table: str, columns: list[str], sqlite: str, postgresql: str) -> None:
    op.create_index(
        name, table, columns, sqlite_where=sa.text(sqlite), postgresql_where=sa.text(postgresql)
    )


def upgrade() -> None:
    op.add_column("launchers", sa.Column("renewed_at", sa.Float, nullable=True))
    op.drop_index("launches_by_state", table_name="launches")
    _partial("launches_live", "launches", ["state", "owner"], LIVE, LIVE)
    _partial(
        "launches_untaken",
        "launches",
        ["decided_at"],
        f"{DECIDED} AND taken IS 0",
        f"{DECIDED} AND taken IS false",
    )
    _partial(
        "launches_history",
        "launches",
        ["decided_at"],
        f"{DECIDED} AND taken IS 1",
        f"{DECIDED} AND taken IS true",
    )
    op.drop_index("guests_by_state", table_name="guests")
    _partial("guests_held", "guests", ["state", "provider"], HELD, HELD)
    gone = "state = 'gone'"
    _partial("guests_gone", "guests", ["created_at"], gone, gone)
    op.create_index("guests_by_guest_id", "guests", ["guest_id"])
    op.create_index("guests_by_recipe", "guests", ["recipe_id"])


def downgrade() -> None:
    for name, table in (
        ("guests_by_recipe", "guests"),
        ("guests_by_guest_id", "guests"),
        ("guests_gone", "guests"),
        ("guests_held", "guests"),
        ("launches_history", "launches"),
        ("launches_untaken", "launches"),
        ("launches_live", "launches"),
    ):
        op.drop_index(name, table_name=table)
    op.create_index("launches_by_state", "launches", ["state", "owner"])
    op.create_index("guests_by_state", "guests", ["state", "provider"])
    with op.batch_alter_table("launchers") as batch:
        batch.drop_column("renewed_at")
