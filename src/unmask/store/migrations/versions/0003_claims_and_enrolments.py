"""scans.claims (reference mode through the service) and the enrolments queue

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("claims", sa.String(200), nullable=True))
        batch.add_column(sa.Column("claims_version", sa.Integer, nullable=True))
        batch.add_column(sa.Column("claim_conclusion", sa.String(32), nullable=True))
    op.create_table(
        "enrolments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(64), nullable=True),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("files", JSONType, nullable=False),
        sa.Column("person_version", sa.Integer, nullable=True),
        sa.Column("summary", JSONType, nullable=True),
        sa.Column("lines", JSONType, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("worker", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_enrolments_status", "enrolments", ["status"])
    op.create_index("ix_enrolments_created_at", "enrolments", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_enrolments_created_at", "enrolments")
    op.drop_index("ix_enrolments_status", "enrolments")
    op.drop_table("enrolments")
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("claim_conclusion")
        batch.drop_column("claims_version")
        batch.drop_column("claims")
