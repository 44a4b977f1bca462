"""request desk: who changed a request's status and whether the customer was told; the new status names

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# statuses stored before the desk -> the desk's names (bot.db.models.LEGACY_STATUSES)
RENAMED = {"scheduled": "surveying", "completed": "done", "cancelled": "rejected"}


def upgrade() -> None:
    with op.batch_alter_table('request_status_history', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delivery', sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column('delivery_error', sa.String(length=300), nullable=True))
        batch_op.create_foreign_key('fk_request_status_history_agent', 'agents', ['agent_id'], ['id'],
                                    ondelete='SET NULL')
    for old, new in RENAMED.items():
        for table in ('service_requests', 'request_status_history'):
            op.execute(sa.text(f"UPDATE {table} SET status = :new WHERE status = :old").bindparams(new=new, old=old))


def downgrade() -> None:
    for old, new in RENAMED.items():
        for table in ('service_requests', 'request_status_history'):
            op.execute(sa.text(f"UPDATE {table} SET status = :old WHERE status = :new").bindparams(new=new, old=old))
    with op.batch_alter_table('request_status_history', schema=None) as batch_op:
        batch_op.drop_constraint('fk_request_status_history_agent', type_='foreignkey')
        batch_op.drop_column('delivery_error')
        batch_op.drop_column('delivery')
        batch_op.drop_column('agent_id')
