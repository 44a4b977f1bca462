"""channel_messages.sender_name: who wrote an agent message (console transcript)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channel_messages') as batch:
        batch.add_column(sa.Column('sender_name', sa.String(length=80), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channel_messages') as batch:
        batch.drop_column('sender_name')
