"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customers',
    sa.Column('customer_code', sa.String(length=13), nullable=False),
    sa.Column('full_name', sa.String(length=120), nullable=False),
    sa.Column('phone', sa.String(length=10), nullable=True),
    sa.Column('id_number', sa.String(length=12), nullable=True),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('corporation', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('customer_code')
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_corporation'), ['corporation'], unique=False)

    op.create_table('planned_outages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_code', sa.String(length=6), nullable=False),
    sa.Column('area', sa.Text(), nullable=False),
    sa.Column('start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('planned_outages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_planned_outages_unit_code'), ['unit_code'], unique=False)
        batch_op.create_index('ix_planned_outages_window', ['start_at', 'end_at'], unique=False)

    op.create_table('service_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=False),
    sa.Column('service', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('customer_code', sa.String(length=13), nullable=True),
    sa.Column('phone', sa.String(length=10), nullable=True),
    sa.Column('corporation', sa.String(length=16), nullable=True),
    sa.Column('fields', sa.JSON(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_requests_customer_code'), ['customer_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_phone'), ['phone'], unique=False)

    op.create_table('bills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_code', sa.String(length=13), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('kwh', sa.Integer(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('paid', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['customer_code'], ['customers.customer_code'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('customer_code', 'period', name='uq_bills_customer_period')
    )
    op.create_table('request_status_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('request_status_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_status_history_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('request_status_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_status_history_request_id'))

    op.drop_table('request_status_history')
    op.drop_table('bills')
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_requests_phone'))
        batch_op.drop_index(batch_op.f('ix_service_requests_customer_code'))

    op.drop_table('service_requests')
    with op.batch_alter_table('planned_outages', schema=None) as batch_op:
        batch_op.drop_index('ix_planned_outages_window')
        batch_op.drop_index(batch_op.f('ix_planned_outages_unit_code'))

    op.drop_table('planned_outages')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_corporation'))

    op.drop_table('customers')
