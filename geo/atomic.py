"""Writing output files so that nothing is ever half-written: temp file, fsync, rename."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

logger = logging.getLogger(__name__)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename.

    Raises
    ------
    FileNotFoundError
        When the folder does not exist (create it first).
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"Folder {path.parent} does not exist: create it before writing {path.name}.")
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    logger.debug("wrote %s (%d bytes)", path, len(data))
    return path
