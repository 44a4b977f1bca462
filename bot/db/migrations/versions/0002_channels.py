"""channel messages, users and tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'channel_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('conversation_id', sa.String(length=160), nullable=False),
        sa.Column('direction', sa.String(length=3), nullable=False),
        sa.Column('sender', sa.String(length=10), nullable=False),
        sa.Column('platform_message_id', sa.String(length=160), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('error', sa.String(length=300), nullable=True),
        sa.Column('choices', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel', 'direction', 'platform_message_id', name='uq_channel_messages_platform_id'),
    )
    op.create_index('ix_channel_messages_conversation', 'channel_messages', ['conversation_id', 'id'])
    op.create_index('ix_channel_messages_created_at', 'channel_messages', ['created_at'])
    op.create_table(
        'channel_users',
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.String(length=128), nullable=False),
        sa.Column('display_name', sa.String(length=200), nullable=True),
        sa.Column('followed', sa.Boolean(), nullable=True),
        sa.Column('reachable', sa.Boolean(), nullable=False),
        sa.Column('unreachable_reason', sa.String(length=300), nullable=True),
        sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('human_reply_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('channel', 'user_id'),
    )
    op.create_table(
        'channel_tokens',
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('access_token', sa.Text(), nullable=False),
        sa.Column('refresh_token', sa.Text(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.String(length=300), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('channel'),
    )


def downgrade() -> None:
    op.drop_table('channel_tokens')
    op.drop_table('channel_users')
    op.drop_index('ix_channel_messages_created_at', table_name='channel_messages')
    op.drop_index('ix_channel_messages_conversation', table_name='channel_messages')
    op.drop_table('channel_messages')
