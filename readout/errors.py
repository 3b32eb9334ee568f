"""Errors a user can fix, each naming the file, the key or column, and the fix."""

from __future__ import annotations

from analyses.base import DataError


class ConfigError(DataError):
    """A problem in ``experiments.toml``: exit code 2, nothing fitted."""


__all__ = ["ConfigError", "DataError"]
