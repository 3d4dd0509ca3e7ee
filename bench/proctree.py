"""Memory of a process tree, from /proc (Linux): what a job and its worker processes hold."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path


def tree_rss_kb(pid: int, *, include_self: bool = False) -> int:
    """Resident memory (kB) of ``pid``'s descendants (and of ``pid`` itself with
    ``include_self``), from /proc; 0 where unavailable."""
    total, todo = 0, [pid] if include_self else []
    if not include_self:
        try:
            todo = [int(c) for t in os.listdir(f"/proc/{pid}/task")
                    for c in Path(f"/proc/{pid}/task/{t}/children").read_text().split()]
        except OSError:
            return 0
    while todo:
        q = todo.pop()
        try:
            for line in Path(f"/proc/{q}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            todo += [int(c) for t in os.listdir(f"/proc/{q}/task")
                     for c in Path(f"/proc/{q}/task/{t}/children").read_text().split()]
        except OSError:
            continue
    return total


def run_sampled(cmd: list[str], *, stdout_path: Path | None = None, every_s: float = 0.2) -> dict:
    """Run ``cmd``, sampling the summed resident memory of it and all its descendants.

    Returns
    -------
    dict
        ``rc``, ``wall_s`` (seconds), ``peak_tree_rss_mb`` (the largest sum seen, MiB) and
        ``stderr`` (its last 3,000 characters).
    """
    out = open(stdout_path, "w", encoding="utf-8") if stdout_path is not None else subprocess.DEVNULL
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True)
        peak = 0
        err_chunks: list[str] = []
        reader = threading.Thread(target=lambda: err_chunks.append(p.stderr.read()), daemon=True)
        reader.start()
        while p.poll() is None:
            peak = max(peak, tree_rss_kb(p.pid, include_self=True))
            time.sleep(every_s)
        reader.join()
        wall = time.perf_counter() - t0
    finally:
        if stdout_path is not None:
            out.close()
    return {"rc": p.returncode, "wall_s": round(wall, 2), "peak_tree_rss_mb": round(peak / 1024, 1),
            "stderr": "".join(err_chunks)[-3000:]}
