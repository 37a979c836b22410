"""The one exception hierarchy of cvguard.

    CvguardError
    ├── InputError        bad input from a caller: a 4xx over HTTP, exit code 2 on the CLI
    │   └── TextTooLarge  text over the configured size limit
    ├── DataError         a shipped or user-supplied data file (lexicon, taxonomy, model) is invalid
    ├── ModelError        the model artifact is missing or does not match this code
    └── StoreError        the database refused or failed an operation (unreachable, locked, bad data)

Edges map these in one place each (``api.problems`` and ``cli``); the core only raises them.
"""

from __future__ import annotations

from dataclasses import dataclass


class CvguardError(Exception):
    """Base of every error cvguard raises on purpose."""


class InputError(CvguardError):
    """The caller sent something cvguard cannot take; the message says what and why."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TextTooLarge(InputError):
    """A text longer than the screening limit."""


class DataError(CvguardError):
    """A data file (lexicon, taxonomy, allow-list) is malformed; ``where`` is ``file:line``."""

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.where = where


class ModelError(CvguardError):
    """The trained model artifact cannot be loaded or used."""


class StoreError(CvguardError):
    """The store (SQLite / PostgreSQL) could not do what was asked; the cause is chained."""


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One problem in a validated data file (a policy, the sanction ladder, MCN thresholds)."""

    file: str
    line: int | None  # None: about the file as a whole (unreadable)
    message: str
    hint: str | None = None


def format_issue(issue: FileIssue) -> str:
    """``file:line: message (hint: ...)``, the way compilers write it."""
    where = issue.file if issue.line is None else f"{issue.file}:{issue.line}"
    hint = f" (hint: {issue.hint})" if issue.hint else ""
    return f"{where}: {issue.message}{hint}"


class FileIssuesError(DataError):
    """A data file that does not validate; ``issues`` lists every problem."""

    def __init__(self, issues: list[FileIssue]) -> None:
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(format_issue(issues[0]) + more)
        self.issues = issues
