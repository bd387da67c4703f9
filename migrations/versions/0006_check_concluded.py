"""audit_tasks.check_concluded_at: whether the forge heard the task's ending

A task can end while its check run (commit status) stays "in progress": the forge refused
or failed the update. The reconciler finds those rows and concludes their check runs.

Revision ID: 0006_check_concluded
Revises: 0005_learnings
Create Date: 2026-12-03 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_check_concluded"
down_revision: str | None = "0005_learnings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_tasks") as batch:
        batch.add_column(sa.Column("check_concluded_at", sa.DateTime(timezone=True),
                                   nullable=True))
        batch.create_index("ix_audit_tasks_check_concluded_at", ["check_concluded_at"])
    # Tasks that ended before this revision: assume their checks were concluded (the
    # reconciler cannot know better, and re-concluding thousands of old runs helps nobody).
    op.execute(
        "UPDATE audit_tasks SET check_concluded_at = finished_at "
        "WHERE status IN ('succeeded', 'failed', 'cancelled')"
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_tasks") as batch:
        batch.drop_index("ix_audit_tasks_check_concluded_at")
        batch.drop_column("check_concluded_at")
