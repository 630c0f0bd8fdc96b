"""notifications: webhook deliveries and attempts, secret rotation, email/SMS messages and hourly send quotas

Revision ID: 0008_notifications
Revises: 0007_orders
Create Date: 2026-11-21 15:02:11.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_notifications"
down_revision: str | None = "0007_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "notifications"


def upgrade() -> None:
    op.add_column("webhook_endpoint", sa.Column("previous_secret", sa.Text(), nullable=True), schema=S)
    op.add_column(
        "webhook_endpoint", sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True), schema=S
    )
    op.add_column("webhook_endpoint", sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True), schema=S)
    op.add_column("webhook_endpoint", sa.Column("disabled_reason", sa.Text(), nullable=True), schema=S)

    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("endpoint_id", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("traceparent", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total_attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'succeeded', 'dead')", name=op.f("ck_webhook_delivery_status")),
        sa.CheckConstraint(
            "status <> 'pending' OR next_attempt_at IS NOT NULL", name=op.f("ck_webhook_delivery_pending_is_scheduled")
        ),
        sa.CheckConstraint("attempts >= 0 AND total_attempts >= attempts", name=op.f("ck_webhook_delivery_attempts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint("endpoint_id", "event_id", name=op.f("uq_webhook_delivery_endpoint_id_event_id")),
        schema=S,
    )
    op.create_index(
        "ix_webhook_delivery_org_created", "webhook_delivery", ["org_id", "created_at", "id"], unique=False, schema=S
    )
    op.create_index(
        "ix_webhook_delivery_org_endpoint",
        "webhook_delivery",
        ["org_id", "endpoint_id", "created_at", "id"],
        unique=False,
        schema=S,
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_attempt_at"],
        unique=False,
        schema=S,
        postgresql_where=sa.text("status = 'pending'"),
    )

    op.create_table(
        "webhook_attempt",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("delivery_id", sa.Text(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempt")),
        schema=S,
    )
    op.create_index("ix_webhook_attempt_delivery", "webhook_attempt", ["delivery_id", "number"], unique=False, schema=S)

    op.create_table(
        "message",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("consumer", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="1", nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f("ck_message_channel")),
        sa.CheckConstraint("status IN ('sending', 'sent', 'skipped', 'failed')", name=op.f("ck_message_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("consumer", "event_id", name=op.f("uq_message_consumer_event_id")),
        schema=S,
    )
    op.create_index("ix_message_org_created", "message", ["org_id", "created_at", "id"], unique=False, schema=S)

    op.create_table(
        "send_quota",
        sa.Column("org_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_send_quota_used")),
        sa.PrimaryKeyConstraint("org_id", "channel", "window_start", name=op.f("pk_send_quota")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("send_quota", schema=S)
    op.drop_index("ix_message_org_created", table_name="message", schema=S)
    op.drop_table("message", schema=S)
    op.drop_index("ix_webhook_attempt_delivery", table_name="webhook_attempt", schema=S)
    op.drop_table("webhook_attempt", schema=S)
    op.drop_index("ix_webhook_delivery_due", table_name="webhook_delivery", schema=S)
    op.drop_index("ix_webhook_delivery_org_endpoint", table_name="webhook_delivery", schema=S)
    op.drop_index("ix_webhook_delivery_org_created", table_name="webhook_delivery", schema=S)
    op.drop_table("webhook_delivery", schema=S)
    op.drop_column("webhook_endpoint", "disabled_reason", schema=S)
    op.drop_column("webhook_endpoint", "failing_since", schema=S)
    op.drop_column("webhook_endpoint", "previous_secret_expires_at", schema=S)
    op.drop_column("webhook_endpoint", "previous_secret", schema=S)
