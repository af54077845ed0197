"""Runs record their format and the finance models they ran; each model's summaries.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05

Format 1 runs kept other finance models' metrics under prefixes
(``pbr.provider_min_cash``) in ``metrics``; format 2 keeps them in ``models``
(``{name: {metrics, probabilities}}``). Existing rows stay format 1 (read by
``sibsim.store.runs.upgrade_record``); this revision fills their
``finance_models`` from the prefixes and the scenario's own model.
Frozen copy of the schema at this revision: later changes go in new revisions.
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MODELS = ("sib", "pbr", "fee", "hybrid")  # frozen: the finance models of format 1


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("format", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("finance_models", sa.Text(), nullable=True))
        batch.add_column(sa.Column("models", sa.Text(), nullable=True))
    conn = op.get_bind()
    runs = sa.table("runs", sa.column("id", sa.Integer), sa.column("scenario_json", sa.Text),
                    sa.column("metrics", sa.Text), sa.column("finance_models", sa.Text))
    for rid, scenario_json, metrics in conn.execute(sa.select(runs.c.id, runs.c.scenario_json, runs.c.metrics)):
        try:
            own = (json.loads(scenario_json).get("finance") or {}).get("model") or "sib"
        except (ValueError, AttributeError):
            own = "sib"
        names = json.loads(metrics) if metrics else {}
        others = [m for m in dict.fromkeys(k.partition(".")[0] for k in names if "." in k) if m in _MODELS]
        models = [own] + [m for m in others if m != own]
        conn.execute(sa.update(runs).where(runs.c.id == rid).values(finance_models=json.dumps(models)))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("models")
        batch.drop_column("finance_models")
        batch.drop_column("format")
