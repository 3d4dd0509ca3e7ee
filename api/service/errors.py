"""The service's errors: every 4xx answer is ``{"detail": [{"file", "where", "problem", "fix"}]}``.

The same four fields as :class:`geo.errors.Problem`, so an upload's validation problems, a bad
query parameter, a missing token and an out-of-scope village all read alike.  No web imports here:
``uploads`` and ``security`` raise :class:`ApiError` and :mod:`api.service.app` turns it into the
answer in one handler.
"""

from __future__ import annotations

from collections.abc import Sequence

from geo.errors import Problem


class ApiError(Exception):
    """An answer other than success, with its problems.

    Parameters
    ----------
    status : int
        The HTTP status (400-499).
    problems : Problem, str or sequence of Problem
        What is wrong; a plain string becomes one problem with ``fix``.
    fix : str
        How to fix it (for a plain-string problem).
    headers : dict, optional
        Extra response headers (``WWW-Authenticate`` for 401).
    """

    def __init__(self, status: int, problems: Problem | str | Sequence[Problem], fix: str = "", *,
                 where: str = "", headers: dict[str, str] | None = None):
        if isinstance(problems, str):
            problems = [Problem("", where, problems, fix)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.status = status
        self.problems = list(problems)
        self.headers = headers
        super().__init__("; ".join(str(p) for p in self.problems))

    def detail(self) -> list[dict[str, str]]:
        """The ``detail`` list of the answer."""
        return [p.as_dict() for p in self.problems]


def unauthorized(problem: str, fix: str) -> ApiError:
    return ApiError(401, problem, fix, headers={"WWW-Authenticate": "Bearer"})


def forbidden(problem: str, fix: str = "使用有此权限的令牌, 或请市级管理员处理") -> ApiError:
    return ApiError(403, problem, fix)


def not_found(what: str, where: str, fix: str) -> ApiError:
    return ApiError(404, f"找不到{what}", fix, where=where)
