"""Alembic migrations of the store: ``env.py``, ``script.py.mako`` and ``versions/``.

Run through :mod:`api.store.migrate` (no ``alembic.ini``): ``open_store`` upgrades a store to
the head revision, and ``python -m api.store.migrate revision -m "..."`` writes a new revision.
Revision ids are the schema versions, four digits (``0002``, ``0003``, ...), and file names
start with them: :data:`api.store.models.SCHEMA_VERSION` is read from those names.
"""
