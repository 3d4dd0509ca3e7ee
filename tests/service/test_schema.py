"""schemathesis against the OpenAPI schema: generated requests to every cheap operation, with an
admin token; no 5xx, and every answer matches its documented status, media type and schema."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from api.service import Settings, create_app
from api.service.security import create_token
from server import SECRET, import_demo

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")]


_DIR = Path(tempfile.mkdtemp(prefix="zhudian-schemathesis-"))
APP = create_app(Settings(db=_DIR / "zhudian.db", secret=SECRET, env="test", job_workers=1))
schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", APP)


@pytest.fixture(scope="module")
def admin_token() -> Iterator[str]:
    import_demo(_DIR / "zhudian.db")
    with TestClient(APP):  # runs the lifespan: store, job pool
        token = create_token(APP.state.service.engine, SECRET, role="city_admin", name="schemathesis")[0]
        yield token
    shutil.rmtree(_DIR, ignore_errors=True)


# Jobs would queue real zonings and plans of the whole demo town, maps render thousands of
# households: they are tested end to end elsewhere.
@schema.exclude(path_regex=r"^/api/v1/(jobs/(zoning|plan)|maps/)").exclude(method="DELETE").parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_match_the_schema(case, admin_token: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {admin_token}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])
