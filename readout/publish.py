"""Publish the site: copy ``reports/`` to a folder atomically, or to a remote with rsync.

Only what readers need is copied: every page, PDF, bundle, posterior and CSV. Working files
(names starting with a dot: staging, lock, status and sent log) and the email outbox stay.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from readout.errors import ConfigError

REMOTE = re.compile(r"^(?:[^@/:\s]+@)?[^/:\s]+:")
PRIVATE = ("outbox",)


def is_remote(dest: str) -> bool:
    """``host:path`` or ``user@host:path`` (not a local path that exists)."""
    return bool(REMOTE.match(dest)) and not Path(dest).exists()


def _ignore(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith(".") or n in PRIVATE]


def publish_local(output: Path, dest: Path) -> Path:
    """Copy the site next to ``dest`` first, then swap it in with two renames.

    Readers see the previous site until the new copy is complete; the previous copy is
    removed only after the swap.
    """
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    fresh = dest.parent / f".{dest.name}.new-{token}"
    shutil.copytree(output, fresh, ignore=_ignore)
    old = None
    try:
        if dest.exists():
            old = dest.parent / f".{dest.name}.old-{token}"
            os.replace(dest, old)
        os.replace(fresh, dest)
    except BaseException:
        if old is not None and not dest.exists():
            os.replace(old, dest)
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return dest


def publish_remote(output: Path, dest: str) -> str:
    """Rsync the site to ``host:path``, files put in place only at the end."""
    if shutil.which("rsync") is None:
        raise ConfigError(dest, "rsync is not installed", "install it (apt-get install rsync)")
    command = [
        "rsync",
        "--archive",
        "--delete",
        "--delay-updates",
        "--exclude",
        ".*",
        *[arg for name in PRIVATE for arg in ("--exclude", name)],
        f"{output}/",
        dest,
    ]
    subprocess.run(command, check=True)
    return dest


def publish(output: Path, dest: str) -> str:
    """Publish ``output`` to ``dest`` (a folder, or ``host:path`` through rsync)."""
    if not (output / "index.html").is_file():
        raise ConfigError(
            str(output),
            "there is no site to publish yet (no index.html)",
            "run `readout run` first",
        )
    if is_remote(dest):
        return publish_remote(output, dest)
    return str(publish_local(output, Path(dest)))
