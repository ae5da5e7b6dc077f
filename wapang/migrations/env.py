"""Alembic environment: migrates the database named by wapang's Settings, asynchronously."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from wapang.api.models import Base
from wapang.config import Settings
from wapang.db.engine import build_engine

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_with_engine(settings: Settings) -> None:
    engine = build_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
    finally:
        await engine.dispose()


def run() -> None:
    settings: Settings = config.attributes.get("settings") or Settings.load()
    asyncio.run(_migrate_with_engine(settings))


run()
