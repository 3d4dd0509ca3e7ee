"""Settings of the service: one class, read from the environment and ``.env`` (prefix ``ZHUDIAN_``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me"
"""The secret of a fresh checkout: accepted only with ``ZHUDIAN_ENV=development``."""


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    Each field is read from ``ZHUDIAN_<FIELD>`` (e.g. ``ZHUDIAN_SECRET``), then from a ``.env``
    file in the working directory; keyword arguments win over both.

    Attributes
    ----------
    database_url : str, optional
        A SQLAlchemy URL (``postgresql+psycopg://...``); wins over ``db``.
    db : path, optional
        The SQLite store file (``zhudian serve DB`` sets it).
    secret : SecretStr
        Key of the token hashes (HMAC-SHA256).  The default is refused outside development.
    env : {"production", "development", "test"}
    max_upload_mb : float
        Largest request body (an upload), in MB; a larger one gets 413.
    max_unzipped_mb : float
        Largest total unzipped size of an uploaded zip (zip bombs), in MB.
    job_workers : int
        Processes of the job pool (zoning and planning run there, never in the web worker).
    """

    model_config = SettingsConfigDict(env_prefix="ZHUDIAN_", env_file=".env", env_file_encoding="utf-8",
                                      extra="ignore")

    database_url: str | None = None
    db: Path | None = None
    secret: SecretStr = SecretStr(DEFAULT_SECRET)
    env: Literal["production", "development", "test"] = "production"
    max_upload_mb: float = Field(default=50.0, gt=0)
    max_unzipped_mb: float = Field(default=500.0, gt=0)
    job_workers: int = Field(default=2, ge=1, le=64)

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> "Settings":
        if self.secret.get_secret_value() == DEFAULT_SECRET and self.env != "development":
            raise ValueError(
                "ZHUDIAN_SECRET 仍是默认值, 服务拒绝启动。处理办法: 设置环境变量 ZHUDIAN_SECRET "
                "(如 python -c 'import secrets; print(secrets.token_urlsafe(32))' 生成), "
                "或仅在本机开发时设置 ZHUDIAN_ENV=development"
            )
        if len(self.secret.get_secret_value()) < 16 and self.env != "development":
            raise ValueError("ZHUDIAN_SECRET 太短 (至少 16 个字符)。处理办法: 换一个更长的随机字符串")
        return self

    @property
    def store(self) -> str:
        """What :func:`api.store.open_store` opens: the URL, else the file.

        Raises
        ------
        ValueError
            Neither ``database_url`` nor ``db`` is set.
        """
        if self.database_url:
            return self.database_url
        if self.db is not None:
            return str(self.db)
        raise ValueError("没有指定数据库。处理办法: zhudian serve DB, 或设置 ZHUDIAN_DATABASE_URL / ZHUDIAN_DB")

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def max_unzipped_bytes(self) -> int:
        return int(self.max_unzipped_mb * 1024 * 1024)
