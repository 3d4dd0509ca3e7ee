"""The FastAPI application: :func:`create_app` wires settings, store, job pool, error handlers and
the routers under ``/api/v1``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import store
from api.service.deps import ServiceState
from api.service.errors import ApiError
from api.service.jobs import JobRunner
from api.service.schemas import Health
from api.service.settings import Settings
from api.service.worker import mark_interrupted
from geo.errors import InputError

logger = logging.getLogger(__name__)

API = "/api/v1"
VERSION = "0.1.0"


def _problem(problem: str, fix: str = "", where: str = "", file: str = "") -> dict[str, str]:
    return {"file": file, "where": where, "problem": problem, "fix": fix}


class BodyTooLarge(StarletteHTTPException):
    """Raised inside ``receive`` when a body passes the limit (FastAPI lets HTTP exceptions through)."""

    def __init__(self, limit: int):
        super().__init__(413, f"请求体超过 {limit / 1024 / 1024:.0f} MB 的上限")


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether announced (Content-Length) or
    streamed (chunked); the rest of the body is read and dropped (up to ``drain``) so that the
    client, still sending, gets the answer instead of a reset connection."""

    def __init__(self, app: ASGIApp, limit: int, drain: int):
        self.app, self.limit, self.drain = app, limit, drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._discard(receive, self.drain if int(declared) <= self.drain else 0)
            await self._answer(send)
            return
        received = 0
        more = True

        async def counted() -> Message:
            nonlocal received, more
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                more = message.get("more_body", False)
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, counted, send)
        if more and received > self.limit:
            await self._discard(receive, self.drain)

    async def _discard(self, receive: Receive, budget: int) -> None:
        seen = 0
        while seen <= budget:
            message = await receive()
            if message["type"] != "http.request":
                return
            seen += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    async def _answer(self, send: Send) -> None:
        import json

        body = json.dumps({"detail": [_problem(f"请求体超过 {self.limit / 1024 / 1024:.0f} MB 的上限",
                                               "分开上传, 或压缩后上传; 确需更大请调整 ZHUDIAN_MAX_UPLOAD_MB")]},
                          ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application.

    Parameters
    ----------
    settings : Settings, optional
        Default: read from the environment and ``.env`` (which refuses the default secret
        outside development).

    Returns
    -------
    FastAPI
        At start-up it opens (or creates) the store, marks the jobs a previous run left queued or
        running as failed ("服务重启时中断") and starts the job pool; at shutdown it stops both.
    """
    settings = settings or Settings()
    settings.store  # noqa: B018 - fail now, with the message, when no database is set

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = store.open_store(settings.store, create=True)
        n = mark_interrupted(engine)
        if n:
            logger.warning("%d job(s) interrupted by the last stop marked failed", n)
        runner = JobRunner(settings.store, engine, settings.job_workers)
        app.state.service = ServiceState(settings=settings, engine=engine, runner=runner)
        try:
            yield
        finally:
            runner.shutdown()
            engine.dispose()

    app = FastAPI(
        title="驻点 Zhudian API", version=VERSION, lifespan=lifespan,
        description="驻点普遍直接联系群众: 导入、分片、月度计划、路线、打印、走访登记和覆盖率。"
                    "所有接口 (除 /health) 需要 Authorization: Bearer <令牌> (zhudian token create 生成)。"
                    "错误一律为 {\"detail\": [{\"file\", \"where\", \"problem\", \"fix\"}]}。",
        openapi_url=f"{API}/openapi.json", docs_url=f"{API}/docs", redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes,
                       drain=max(4 * settings.max_upload_bytes, 256 * 1024 * 1024))
    _handlers(app)

    from api.service.routes import imports, jobs, places, plans, problems, visits

    for module in (imports, places, plans, jobs, visits, problems):
        app.include_router(module.router, prefix=API)

    @app.get(f"{API}/health", response_model=Health, tags=["service"], summary="服务是否在运行 (无需令牌)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": VERSION}

    return app


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail()}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(InputError)
    async def input_error(_request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse({"detail": [p.as_dict() for p in exc.problems]}, status_code=422)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(x) for x in e.get("loc", ()) if x not in ("body", "query", "path", "header")]
            problems.append(_problem(f"{'.'.join(loc) or '请求'}: {e.get('msg', '')}",
                                     "按 /api/v1/docs 的说明改正这个参数", where=".".join(loc)))
        return JSONResponse({"detail": problems or [_problem("请求无效", "按 /api/v1/docs 改正")]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        texts = {404: ("没有这个地址", "地址见 /api/v1/docs"), 405: ("这个地址不支持该请求方法", "见 /api/v1/docs"),
                 400: ("请求无法解析", "检查请求体格式 (JSON 或 multipart)")}
        problem, fix = texts.get(exc.status_code, (str(exc.detail), ""))
        if exc.status_code == 413:
            problem, fix = str(exc.detail), "分开上传, 或压缩后上传; 确需更大请调整 ZHUDIAN_MAX_UPLOAD_MB"
        headers = {"connection": "close"} if exc.status_code == 413 else getattr(exc, "headers", None)
        # a body that does not parse (broken multipart) is bad input like any other: 422, as for bad JSON
        status = 422 if exc.status_code == 400 else exc.status_code
        return JSONResponse({"detail": [_problem(problem, fix)]}, status_code=status, headers=headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error")
        return JSONResponse({"detail": [_problem(f"服务内部错误: {type(exc).__name__}", "请稍后重试; 反复出现请联系管理员")]},
                            status_code=500)
