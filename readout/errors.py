"""Errors a user can fix, each naming the file, the key or column, and the fix."""

from __future__ import annotations

from analyses.base import DataError


class ConfigError(DataError):
    """A problem in ``experiments.toml``: exit code 2, nothing fitted."""


class Terminated(BaseException):
    """SIGTERM arrived: unwind (staging removed, lock released) and exit non-zero.

    A BaseException, so that an experiment's ``except Exception`` does not swallow it.
    """


__all__ = ["ConfigError", "DataError", "Terminated"]
