"""Publish the site: copy ``reports/`` to a folder atomically, or to a remote with rsync.

Only what readers need is copied: every page, PDF, bundle, posterior and CSV. Working files
(names starting with a dot: staging, locks, status, sent log, temporary files), the email
outbox and the Quarto project stay.

Publishing replaces the destination as a whole, so the destination is checked before
anything is written, and refused (exit 2, naming it and the fix) when it

* is, contains or lies inside the output folder or the project (the config file's folder),
  after resolving symlinks and ``..``;
* is not a folder (a file, or a path through a file);
* is a folder readout did not publish: an existing folder is replaced only when it holds
  :data:`MARKER`, which every published site carries, or is empty. A user's folder is never
  replaced.

For ``host:path`` the same rules apply as far as rsync can see: the remote folder is listed
first (a folder with files and no marker, or a file, is refused), the remote home or root
folder is refused, and a host that is this machine has its path checked like a local one.

A publish killed halfway leaves ``.<dest>.new-<id>`` (or the previous site as
``.<dest>.old-<id>``) beside the destination; the next publish to it removes them (putting the
previous site back first if the destination is missing). Publishes from one output folder
take turns (a lock).
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import filelock

from readout import store
from readout.errors import ConfigError

REMOTE = re.compile(r"^(?:(?P<user>[^@/:\s]+)@)?(?P<host>[^/:\s]+):(?P<path>.*)$")
#: Folders of the output that readers do not need: the email outbox, the Quarto project.
PRIVATE = (store.OUTBOX, store.QUARTO)
#: Written into every published site: only a folder holding it is ever replaced.
MARKER = store.SITE_MARKER
MARKER_TEXT = (
    "This folder is a site published by readout (`readout publish`).\n"
    "Each publish replaces the whole folder: keep no other files here.\n"
)
#: How long a second publish from the same output waits for the first (seconds).
LOCK_WAIT = 900
FIX = "publish to a new or empty folder of its own outside the project, e.g. /srv/www/readouts"


def is_remote(dest: str) -> bool:
    """``host:path`` or ``user@host:path`` (not a local path that exists)."""
    return bool(REMOTE.match(dest)) and not Path(dest).exists()


def _ignore(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n.startswith(".") or n in PRIVATE]


def _relation(dest: Path, guarded: Path) -> str | None:
    if dest == guarded:
        return "is"
    if guarded.is_relative_to(dest):
        return "contains"
    if dest.is_relative_to(guarded):
        return "lies inside"
    return None


def check_apart(dest: Path, shown: str, output: Path, project: Path | None) -> None:
    """Refuse a resolved ``dest`` that is, contains or lies inside the output or project."""
    for guarded, what in ((output.resolve(), "the output folder"), (project, "the project")):
        if guarded is None:
            continue
        relation = _relation(dest, guarded.resolve())
        if relation is not None:
            where = f" ({dest})" if str(dest) != shown else ""
            raise ConfigError(
                shown,
                f"the destination{where} {relation} {what} {guarded}, which publishing "
                "would replace or copy into itself",
                FIX,
            )


def _check_contents(names: list[str] | None, shown: str) -> None:
    """An existing folder is replaced only if readout published it, or it is empty."""
    if names and MARKER not in names:
        raise ConfigError(
            shown,
            f"the destination is a folder readout did not publish (no {MARKER} in it; it "
            f"holds {', '.join(sorted(names)[:3])}{', ...' if len(names) > 3 else ''}), and "
            "publishing replaces the whole folder",
            FIX + ", or move its files elsewhere first",
        )


def check_local(dest: str, output: Path, project: Path | None) -> Path:
    """The resolved destination folder, or a ConfigError saying why it is refused."""
    target = Path(dest).resolve()  # symlinks and '..' resolved
    check_apart(target, dest, output, project)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(
                dest, "the destination is a file, not a folder", FIX + " (a site is a folder)"
            )
        _check_contents([p.name for p in target.iterdir()], dest)
        return target
    ancestor = next(p for p in target.parents if p.exists())
    if not ancestor.is_dir():
        raise ConfigError(dest, f"{ancestor} is a file, not a folder", FIX)
    return target


def _is_this_machine(host: str) -> bool:
    names = {"localhost", "127.0.0.1", "::1", "[::1]", socket.gethostname().lower()}
    return host.lower() in names or host.lower().startswith("localhost.")


def check_remote(dest: str, output: Path, project: Path | None) -> None:
    """Refuse a ``host:path`` destination that would lose files; see the module docstring."""
    match = REMOTE.match(dest)
    user, host, path = match["user"], match["host"], match["path"]
    if path.strip().rstrip("/") in ("", ".", "~", "/"):
        raise ConfigError(
            dest,
            f"the destination is the home or root folder of {host}, which publishing with "
            "rsync --delete would empty of everything else",
            f"give a folder of its own, e.g. {host}:/srv/www/readouts",
        )
    if _is_this_machine(host) and user in (None, getpass.getuser()):
        local = Path(path).expanduser()
        check_apart((Path.home() / local).resolve(), dest, output, project)
    _check_contents(remote_listing(dest), dest)


def _need_rsync(dest: str) -> None:
    if shutil.which("rsync") is None:
        raise ConfigError(dest, "rsync is not installed", "install it (apt-get install rsync)")


def remote_listing(dest: str) -> list[str] | None:
    """The names in the folder ``dest`` as rsync sees it; None if it does not exist yet."""
    _need_rsync(dest)
    listed = subprocess.run(
        ["rsync", "--list-only", f"{dest.rstrip('/')}/"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listed.returncode == 23 and "No such file or directory" in listed.stderr:
        return None
    if listed.returncode == 23 and "Not a directory" in listed.stderr:
        raise ConfigError(dest, "the destination is a file, not a folder", FIX)
    if listed.returncode != 0:
        raise subprocess.CalledProcessError(
            listed.returncode, listed.args, listed.stdout, listed.stderr
        )
    names = [line.split(None, 4)[4] for line in listed.stdout.splitlines() if line.strip()]
    return [n for n in names if n != "."]


def _clean_leftovers(dest: Path) -> None:
    """Remove the copies a killed publish left beside ``dest`` (readout's own only)."""
    if not dest.parent.is_dir():
        return
    pattern = store.publish_copy_pattern(dest)
    for entry in dest.parent.iterdir():
        found = pattern.match(entry.name)
        if found is None or not (entry / MARKER).is_file():
            continue
        if found[1] == "old" and not dest.exists():
            os.replace(entry, dest)  # killed between the two renames: the previous site
        else:
            shutil.rmtree(entry, ignore_errors=True)


def publish_local(output: Path, dest: Path) -> Path:
    """Copy the site next to ``dest`` first, then swap it in with two renames.

    Readers see the previous site until the new copy is complete; the previous copy is
    removed only after the swap.
    """
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(dest)
    token = uuid.uuid4().hex[:12]
    fresh = store.publish_copy(dest, "new", token)
    old = None
    try:
        fresh.mkdir()
        (fresh / MARKER).write_text(MARKER_TEXT)  # first: a leftover copy is recognisable
        shutil.copytree(output, fresh, ignore=_ignore, dirs_exist_ok=True)
        if dest.exists():
            old = store.publish_copy(dest, "old", token)
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
    """Rsync the site (and the marker) to ``host:path``, files put in place only at the end."""
    _need_rsync(dest)
    marker = store.publish_marker(output)
    if not marker.is_file() or marker.read_text() != MARKER_TEXT:
        marker.parent.mkdir(exist_ok=True)
        marker.write_text(MARKER_TEXT)
    command = [
        "rsync",
        "--archive",
        "--delete",
        "--delay-updates",
        "--exclude",
        ".*",
        *[arg for name in PRIVATE for arg in ("--exclude", name)],
        f"{output}/",
        f"{marker.parent}/",
        dest,
    ]
    subprocess.run(command, check=True)
    return dest


def publish(output: Path, dest: str, project: Path | None = None) -> str:
    """Publish ``output`` to ``dest`` (a folder, or ``host:path`` through rsync).

    Parameters
    ----------
    output
        The site: readout's output folder.
    dest
        A folder, or ``[user@]host:path``.
    project
        The project folder (the config file's): never published into or over.

    Returns
    -------
    str
        Where the site was published.
    """
    if not store.site_index(output).is_file():
        raise ConfigError(
            str(output),
            f"there is no site to publish yet (no {store.INDEX})",
            "run `readout run` first",
        )
    with filelock.FileLock(store.lock_file(output, store.PUBLISH_LOCK), timeout=LOCK_WAIT):
        if is_remote(dest):
            check_remote(dest, output, project)
            return publish_remote(output, dest)
        return str(publish_local(output, check_local(dest, output, project)))
