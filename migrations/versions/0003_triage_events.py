"""triage: the history of finding states (triage_events); 'ignored' becomes 'wont_fix'

Revision ID: 0003_triage_events
Revises: 0002_findings_quote
Create Date: 2026-11-27 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003_triage_events"
down_revision: str | None = "0002_findings_quote"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "triage_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("finding_id", sa.Integer(), nullable=True),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["finding_id"], ["findings.id"],
            name=op.f("fk_triage_events_finding_id_findings"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"],
            name=op.f("fk_triage_events_project_id_projects"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_events")),
    )
    with op.batch_alter_table("triage_events") as batch:
        batch.create_index(
            batch.f("ix_triage_events_project_id_fingerprint_created_at"),
            ["project_id", "fingerprint", "created_at"], unique=False,
        )
        batch.create_index(batch.f("ix_triage_events_finding_id"), ["finding_id"], unique=False)
    # The state was called 'ignored'; it is "won't fix" on every page and in the API now.
    op.execute("UPDATE findings SET status = 'wont_fix' WHERE status = 'ignored'")


def downgrade() -> None:
    op.execute("UPDATE findings SET status = 'ignored' WHERE status = 'wont_fix'")
    op.execute("UPDATE findings SET status = 'open' WHERE status = 'confirmed'")
    with op.batch_alter_table("triage_events") as batch:
        batch.drop_index(batch.f("ix_triage_events_finding_id"))
        batch.drop_index(batch.f("ix_triage_events_project_id_fingerprint_created_at"))
    op.drop_table("triage_events")
