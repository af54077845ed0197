"""Observation sets of running contracts (sibsim.store.observations).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Frozen copy of the schema at this revision. JSON columns are text (``models.JSONText``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "observation_sets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("scenario_name", sa.String(200), nullable=False),
        sa.Column("scenario_hash", sa.String(128), nullable=False),
        sa.Column("obs_hash", sa.String(128), nullable=False),
        sa.Column("until", sa.Integer(), nullable=False),
        sa.Column("outcomes", sa.Text(), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("entered", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_observation_sets"),
    )
    for col in ("scenario_hash", "obs_hash", "entered"):
        op.create_index(f"ix_observation_sets_{col}", "observation_sets", [col])


def downgrade() -> None:
    op.drop_table("observation_sets")
