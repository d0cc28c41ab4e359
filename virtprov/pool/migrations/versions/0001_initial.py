"""The first journal schema.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launchers",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False),
    )
    op.create_table(
        "launches",
        sa.Column("recipe_id", sa.String(100), primary_key=True),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("flavor_id", sa.String(255), nullable=True),
        sa.Column("guest_row", sa.Integer, nullable=True),
        sa.Column("passed", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("submitted_at", sa.Float, nullable=False),
        sa.Column("deadline", sa.Float, nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("decided_at", sa.Float, nullable=True),
        sa.Column("taken", sa.Boolean, nullable=False),
    )
    op.create_index("launches_by_state", "launches", ["state", "owner"])
    op.create_table(
        "guests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("guest_id", sa.String(255), nullable=True),
        sa.Column("recipe_id", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("vcpus", sa.Integer, nullable=True),
        sa.Column("ram_mib", sa.Integer, nullable=True),
        sa.Column("disk_bytes", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.UniqueConstraint("provider", "guest_id", name="guests_provider_guest_id"),
    )
    op.create_index("guests_by_state", "guests", ["state", "provider"])
    op.create_table(
        "capacity",
        sa.Column("provider", sa.String(100), primary_key=True),
        sa.Column("taken_at", sa.Float, nullable=False),
        sa.Column("instances", sa.Integer, nullable=True),
        sa.Column("vcpus", sa.Integer, nullable=True),
        sa.Column("ram_mib", sa.Integer, nullable=True),
        sa.Column("disk_bytes", sa.BigInteger, nullable=True),
    )
    op.create_table(
        "provider_status",
        sa.Column("provider", sa.String(100), primary_key=True),
        sa.Column("disabled", sa.Text, nullable=True),
        sa.Column("since", sa.Float, nullable=False),
    )
    op.create_table(
        "sightings",
        sa.Column("provider", sa.String(100), primary_key=True),
        sa.Column("guest_id", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    for table in ("sightings", "provider_status", "capacity", "guests", "launches", "launchers"):
        op.drop_table(table)
