"""What a destroyed guest leaves to delete once it is gone.

Revision ID: 0003
Revises: 0002

``guests.leftovers``: the resources ``destroy_guest`` returned (a port and the network
it is on...), which can only be deleted once a poll no longer sees the guest; the
launcher deletes them then, one by one, and empties the column as it goes. NULL: none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("guests") as batch:
        batch.add_column(sa.Column("leftovers", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("guests") as batch:
        batch.drop_column("leftovers")
