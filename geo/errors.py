"""Errors and warnings raised while reading user files.

Every problem names the file, the feature or row, what is wrong and how to fix it.  Readers
collect all problems of a file first and raise one :class:`InputError` carrying all of them, so a
user fixes a file in one pass instead of one error at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file.

    Attributes
    ----------
    file : str
        The file's name as the user gave it.
    where : str
        The feature or row (``"第 12 行"``, ``"要素 3 (id=H00017)"``), or ``""`` for the whole file.
    problem : str
        What is wrong.
    fix : str
        What the user should do about it.
    """

    file: str
    where: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = f" {self.where}" if self.where else ""
        return f"{self.file}{where}: {self.problem}。处理办法: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "where": self.where, "problem": self.problem, "fix": self.fix}


class InputError(ValueError):
    """Bad input: one or more :class:`Problem` found in a user's file.

    The message lists every problem, one per line; ``problems`` keeps them structured for the
    API, which turns them into a 422 answer.
    """

    def __init__(self, problems: list[Problem]):
        if not problems:
            raise ValueError("InputError needs at least one problem")
        self.problems = list(problems)
        shown = [str(p) for p in self.problems[:50]]
        if len(self.problems) > 50:
            shown.append(f"... 另有 {len(self.problems) - 50} 个问题未列出")
        super().__init__("\n".join(shown))


@dataclass
class Collector:
    """Collects problems and warnings for one file, then raises once.

    Parameters
    ----------
    path : str or Path
        The file being read; its name is used in every message.
    """

    path: str | Path
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return Path(self.path).name if str(self.path) else "<input>"

    def add(self, where: str, problem: str, fix: str) -> None:
        """Record a problem (raised later by :meth:`raise_if_any`)."""
        self.problems.append(Problem(self.name, where, problem, fix))

    def fail(self, where: str, problem: str, fix: str) -> None:
        """Record a problem and raise at once with everything collected so far.

        Raises
        ------
        InputError
            Always.
        """
        self.add(where, problem, fix)
        raise InputError(self.problems)

    def warn(self, message: str) -> None:
        """Record a warning for the user (reported, never fatal)."""
        self.warnings.append(f"{self.name}: {message}")

    def raise_if_any(self) -> None:
        """Raise one :class:`InputError` with all problems collected, if there are any.

        Raises
        ------
        InputError
            When at least one problem was recorded.
        """
        if self.problems:
            raise InputError(self.problems)
