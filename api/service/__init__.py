"""The HTTP service: the functions of the CLI served under ``/api/v1`` (FastAPI).

:func:`create_app` builds the application from a :class:`Settings`; ``zhudian serve`` runs it
with uvicorn.  Layout: ``settings`` (environment / ``.env``), ``security`` (tokens, roles,
scopes), ``data`` (store queries of the service), ``jobs`` (the process pool), ``worker`` (what a
job runs, imported by the pool's processes; no web code), ``uploads`` (temporary files, size and
zip checks), ``schemas`` (request and response models) and one router per resource in ``routes``.

Importing this package does not import FastAPI: the pool's processes import ``worker`` only.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from api.service.app import create_app

        return create_app
    if name == "Settings":
        from api.service.settings import Settings

        return Settings
    raise AttributeError(name)
