"""Dependencies of the routes: the service state, the caller and its scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from api.service.jobs import JobRunner
from api.service.security import Principal, Scope, authenticate
from api.service.settings import Settings

bearer = HTTPBearer(auto_error=False, description="令牌由 zhudian token create 生成")


@dataclass
class ServiceState:
    """What the app holds while it runs (``app.state.service``)."""

    settings: Settings
    engine: Engine
    runner: JobRunner

    @property
    def store(self) -> str:
        return self.settings.store


def get_state(request: Request) -> ServiceState:
    return request.app.state.service


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_principal(request: Request, state: StateDep,
                  _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None) -> Principal:
    principal = authenticate(state.engine, state.settings.secret.get_secret_value(),
                             request.headers.get("authorization"))
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def get_scope(state: StateDep, principal: PrincipalDep) -> Scope:
    with state.engine.connect() as conn:
        return Scope.resolve(conn, principal)


ScopeDep = Annotated[Scope, Depends(get_scope)]
