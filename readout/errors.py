"""Errors a user can fix, each naming the file, the key or column, and the fix."""

from __future__ import annotations

from analyses.core.base import DataError


class ConfigError(DataError):
    """A problem in ``experiments.toml``: exit code 2, nothing fitted."""


class EngineFailure(ConnectionError):
    """An engine that cannot be reached, stopped answering, or timed out: exit code 1.

    Not the user's SQL or data: the experiment that used the engine fails, the others still
    run, and the message names the source (masked) and what happened.
    """

    def __init__(self, source: str, problem: str, fix: str) -> None:
        self.source, self.problem, self.fix = source, problem, fix
        super().__init__(f"{source}: {problem}. Fix: {fix}")


class Terminated(BaseException):
    """SIGTERM arrived: unwind (staging removed, lock released) and exit non-zero.

    A BaseException, so that an experiment's ``except Exception`` does not swallow it.
    """


__all__ = ["ConfigError", "DataError", "EngineFailure", "Terminated"]
