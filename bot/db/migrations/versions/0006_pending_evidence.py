"""pending_evidence: outage images/locations waiting for their request (survives restarts, shared by instances)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pending_evidence',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('conversation_id', sa.String(length=255), nullable=False),
        sa.Column('item', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_pending_evidence_conversation_id', 'pending_evidence', ['conversation_id'])


def downgrade() -> None:
    op.drop_index('ix_pending_evidence_conversation_id', table_name='pending_evidence')
    op.drop_table('pending_evidence')
