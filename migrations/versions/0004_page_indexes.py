"""indexes for the pages: findings by project in id order (with and without a state), the
folder filter with pattern ops on PostgreSQL, audits by creation time

Revision ID: 0004_page_indexes
Revises: 0003_triage_events
Create Date: 2026-12-02 16:30:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = "0004_page_indexes"
down_revision: str | None = "0003_triage_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("findings") as batch:
        batch.create_index("ix_findings_project_id_id", ["project_id", "id"])
        batch.create_index("ix_findings_project_id_status_id", ["project_id", "status", "id"])
        batch.drop_index("ix_findings_project_id_path")
        batch.create_index("ix_findings_project_id_path", ["project_id", "path"],
                           postgresql_ops={"path": "varchar_pattern_ops"})
    with op.batch_alter_table("audit_tasks") as batch:
        batch.create_index("ix_audit_tasks_created_at_id", ["created_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("audit_tasks") as batch:
        batch.drop_index("ix_audit_tasks_created_at_id")
    with op.batch_alter_table("findings") as batch:
        batch.drop_index("ix_findings_project_id_path")
        batch.create_index("ix_findings_project_id_path", ["project_id", "path"])
        batch.drop_index("ix_findings_project_id_status_id")
        batch.drop_index("ix_findings_project_id_id")
