"""Runs, tags, per-trial blobs and the INDIGO reference tables.

Revision ID: 0001
Revises:
Create Date: 2025-05-20

Frozen copy of the schema at this revision: later changes to the models go in
new revisions, never here. JSON columns are text (``models.JSONText``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

F, T, D, I = sa.Float, sa.Text, sa.Date, sa.Integer  # noqa: E741

REFERENCE = {
    "projects": [
        ("project_id", T), ("name", T), ("stage", T), ("country", T), ("countries", T), ("sector", T),
        ("start_date", D), ("end_date", D), ("end_date_kind", T), ("duration_years", F),
        ("duration_source", T), ("currency", T), ("capital_raised_local", F), ("capital_raised_usd", F),
        ("capital_raised_min_local", F), ("capital_raised_max_local", F), ("capital_raised_min_usd", F),
        ("capital_raised_max_usd", F), ("max_outcome_payments_currency", T),
        ("max_outcome_payments_local", F), ("max_outcome_payments_usd", F),
        ("max_outcome_payments_source", T), ("participants", F), ("participants_targeted", F),
        ("participants_engaged", F), ("participants_unit", T), ("rate_card_currency", T),
        ("rate_card_prices", I), ("price_per_outcome_median_local", F), ("price_per_outcome_median_usd", F),
    ],
    "rate_cards": [
        ("project_id", T), ("outcome_metric_id", T), ("outcome_definition", T), ("sector", T),
        ("currency", T), ("price_per_outcome_local", F), ("price_per_outcome_usd", F), ("max_price_local", F),
    ],
    "investments": [
        ("project_id", T), ("investment_id", T), ("organisation_id", T), ("investor_type", T),
        ("investment_type", T), ("currency", T), ("amount_local", F), ("amount_usd", F),
        ("amount_min_local", F), ("amount_max_local", F), ("max_potential_loss", T), ("max_potential_return", T),
    ],
    "outcome_payments": [
        ("project_id", T), ("plan_id", T), ("outcome_metric_id", T), ("period_start", D), ("period_end", D),
        ("payer_ids", T), ("type", T), ("currency", T), ("amount_local", F), ("amount_usd", F),
    ],
    "results": [
        ("project_id", T), ("outcome_metric_id", T), ("level", T), ("result_type", T), ("period_start", D),
        ("period_end", D), ("outcomes_achieved", F), ("number_engaged", F), ("number_positive", F),
    ],
}


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scenario_hash", sa.String(128), nullable=False),
        sa.Column("scenario_json", sa.Text(), nullable=False),
        sa.Column("seed", sa.String(80), nullable=False),
        sa.Column("trials", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Text(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("probabilities", sa.Text(), nullable=False),
        sa.Column("timing", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    for col in ("name", "scenario_hash", "created"):
        op.create_index(f"ix_runs_{col}", "runs", [col])
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(100), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_tags_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "tag", name="pk_run_tags"),
    )
    op.create_index("ix_run_tags_tag", "run_tags", ["tag"])
    op.create_table(
        "run_per_trial",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("format", sa.String(40), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_per_trial_run_id_runs", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", name="pk_run_per_trial"),
    )
    op.create_table(
        "ref_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("imported", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ref_imports"),
    )
    for name, cols in REFERENCE.items():
        op.create_table(
            f"ref_{name}",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            *[sa.Column(col, kind(), nullable=True) for col, kind in cols],
            sa.PrimaryKeyConstraint("id", name=f"pk_ref_{name}"),
        )
        op.create_index(f"ix_ref_{name}_project_id", f"ref_{name}", ["project_id"])


def downgrade() -> None:
    for name in REFERENCE:
        op.drop_table(f"ref_{name}")
    for table in ("ref_imports", "run_per_trial", "run_tags", "runs"):
        op.drop_table(table)
