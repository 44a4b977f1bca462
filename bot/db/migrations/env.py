"""Alembic environment: the URL comes from settings (or the caller), metadata from bot.db.models."""
from alembic import context
from sqlalchemy import create_engine

from bot.db.models import Base
from bot.db.session import make_url_dir

config = context.config
url = config.attributes.get("database_url")


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    make_url_dir(url)
    engine = create_engine(url, future=True)
    with engine.connect() as connection:
        # batch mode lets later migrations ALTER tables on SQLite too
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
