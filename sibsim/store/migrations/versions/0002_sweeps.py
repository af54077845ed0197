"""Saved sweeps: provenance and design, tags, results table blob.

Revision ID: 0002
Revises: 0001
Create Date: 2025-06-10

Frozen copy of the schema at this revision: later changes to the models go in
new revisions, never here. JSON columns are text (``models.JSONText``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scenario_hash", sa.String(128), nullable=False),
        sa.Column("scenario_json", sa.Text(), nullable=False),
        sa.Column("seed", sa.String(80), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("design", sa.Text(), nullable=False),
        sa.Column("points", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sweeps"),
    )
    for col in ("name", "scenario_hash", "created"):
        op.create_index(f"ix_sweeps_{col}", "sweeps", [col])
    op.create_table(
        "sweep_tags",
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], name="fk_sweep_tags_sweep_id_sweeps",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sweep_id", "tag", name="pk_sweep_tags"),
    )
    op.create_index("ix_sweep_tags_tag", "sweep_tags", ["tag"])
    op.create_table(
        "sweep_results",
        sa.Column("sweep_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["sweep_id"], ["sweeps.id"], name="fk_sweep_results_sweep_id_sweeps",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("sweep_id", name="pk_sweep_results"),
    )


def downgrade() -> None:
    for table in ("sweep_results", "sweep_tags", "sweeps"):
        op.drop_table(table)
