"""Alembic environment of the store, configured by :mod:`api.store.migrate`, not ``alembic.ini``.

The caller hands over an open connection in ``config.attributes["connection"]``, inside its own
transaction: all revisions run in that one transaction (SQLite and PostgreSQL both have
transactional DDL), so an upgrade either completes or leaves the store as it was.
"""

from __future__ import annotations

from alembic import context

from api.store.migrate import configure_context

if context.is_offline_mode():
    raise RuntimeError(
        "不支持离线 (--sql) 迁移。处理办法: 用 python -m api.store.migrate upgrade <存储> 直接升级。"
    )
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "迁移需要一个已打开的数据库连接。处理办法: 用 python -m api.store.migrate 或 open_store，"
        "不要直接运行 alembic 命令。"
    )
configure_context(context, connection)
with context.begin_transaction():
    context.run_migrations()
