"""Errors a person can act on.

A :class:`Problem` is one thing wrong with a scenario file: where it is (file, line, column,
field path) and what to do about it (message, hint).  :class:`ScenarioError` carries every
problem found in one load, so a person fixes them all in one pass instead of one per run.
:class:`UserError` is any other mistake on the user's side (a missing run folder, a bad
option value); the CLI reports both with exit status 2 and no traceback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*\Z")


def format_path(path: tuple[str | int, ...]) -> str:
    """``('network', 'pipelines', 2, 'capacity')`` -> ``network.pipelines[2].capacity``."""
    out = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += ("." if out else "") + part
        else:  # a key with spaces, newlines or odd characters: shown quoted, on one line
            out += f"[{part!r}]"
    return out


@dataclass(frozen=True)
class Problem:
    """One problem in a scenario file; ``line`` and ``column`` are 1-based (None if unknown)."""

    file: str
    line: int | None
    column: int | None
    path: tuple[str | int, ...]
    message: str
    hint: str | None = None

    def format(self) -> str:
        """``file:line:col: path: message; hint`` (parts that are unknown are left out)."""
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: "
        if self.path:
            text += f"{format_path(self.path)}: "
        text += self.message
        if self.hint:
            text += f"; {self.hint}"
        return text

    def __str__(self) -> str:
        return self.format()


class RoutesimError(Exception):
    """Base of the errors that are the user's to fix (exit status 2, no traceback)."""


class UserError(RoutesimError):
    """A mistake outside a scenario file: a bad option, a missing run folder, ..."""


class ScenarioError(RoutesimError):
    """A scenario that cannot be loaded; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        if not self.problems:
            raise ValueError("a ScenarioError needs at least one problem")
        super().__init__(self.format())

    def format(self) -> str:
        """One problem per line."""
        return "\n".join(p.format() for p in self.problems)

    def __str__(self) -> str:
        return self.format()
