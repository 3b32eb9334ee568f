"""Faults on the way out: publishing never destroys a user's files, and a killed run leaves
no temporary file the next run does not clear.

Every case runs the real command line (the kills run it as a subprocess) against real
folders, symlinks and rsync (through a remote shell that runs on this machine).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from readout import files, publish, store
from tests.readout.running import binary_frame, invoke, project
from tests.readout.test_email import env, free_port

pytestmark = pytest.mark.faults

ROOT = Path(__file__).resolve().parents[2]
READOUT = [sys.executable, "-m", "readout"]
RSYNC = shutil.which("rsync")


def snapshot(folder: Path) -> dict[str, str]:
    """Every file and symlink under ``folder`` with a hash of its content.

    Publish's own working files in the output (its lock, the marker rsync sends) are left out.
    """
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if {store.PUBLISH_LOCK, store.MARKER_FOLDER} & set(path.parts):
            continue
        if path.is_symlink():
            found[key] = "-> " + os.readlink(path)
        elif path.is_file():
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> tuple[Path, Path]:
    """A project in ``<root>/projects/proj`` with its site in ``proj/reports``."""
    root = tmp_path_factory.mktemp("publish-faults")
    proj = root / "projects" / "proj"
    proj.mkdir(parents=True)
    config = project(proj, [{"name": "signup", "file": "good.csv"}], {"good.csv": binary_frame()})
    out = proj / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out), "--date", "2026-11-21")
    assert result.exit_code == 0, result.output
    quarto = invoke("render", "--engine", "quarto", "--config", str(config), "--output", str(out))
    assert quarto.exit_code == 0, quarto.output
    (out / "outbox").mkdir(exist_ok=True)
    (out / "outbox" / "x.eml").write_text("private")
    return config, out


def publish_to(config: Path, out: Path, dest: str, env: dict | None = None):
    return invoke("publish", "--config", str(config), "--output", str(out), dest, env=env)


def assert_refused(result, dest: str, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert f"error: {dest}:" in result.output  # names DEST as given
    assert "Fix:" in result.output
    for fragment in fragments:
        assert fragment in result.output, (fragment, result.output)


# --------------------------------------------------------------------------- local folders

PLACES = {
    "the output folder": lambda proj, out, tmp: str(out),
    "a new folder inside the output": lambda proj, out, tmp: str(out / "www"),
    "a readout folder inside the output": lambda proj, out, tmp: str(out / "signup"),
    "the project": lambda proj, out, tmp: str(proj),
    "the project's data": lambda proj, out, tmp: str(proj / "data"),
    "a new folder inside the project": lambda proj, out, tmp: str(proj / "site"),
    "the folder holding the project (with ..)": lambda proj, out, tmp: str(proj / "data" / ".."),
    "a parent of the project": lambda proj, out, tmp: str(proj.parent),
    "the filesystem root": lambda proj, out, tmp: "/",
    "the output through a '..' detour": lambda proj, out, tmp: f"{proj}/data/../reports",
}


@pytest.mark.parametrize("place", PLACES)
def test_publishing_into_or_over_the_project_or_output_is_refused(site, tmp_path, place):
    config, out = site
    proj = config.parent
    before = snapshot(proj.parent)
    dest = PLACES[place](proj, out, tmp_path)
    result = publish_to(config, out, dest)
    assert_refused(result, dest, "the destination", "outside the project")
    assert snapshot(proj.parent) == before
    assert (proj / "experiments.toml").is_file() and (proj / "data" / "good.csv").is_file()


@pytest.mark.parametrize("target", ["project", "output", "data"])
def test_a_symlink_to_the_project_or_output_is_followed_and_refused(site, tmp_path, target):
    config, out = site
    proj = config.parent
    link = tmp_path / "www"
    link.symlink_to({"project": proj, "output": out, "data": proj / "data"}[target])
    before = snapshot(proj.parent)
    assert_refused(publish_to(config, out, str(link)), str(link), str(link.resolve()))
    assert snapshot(proj.parent) == before
    assert link.is_symlink()


def test_a_file_is_not_replaced(site, tmp_path):
    config, out = site
    dest = tmp_path / "notes.txt"
    dest.write_text("my notes")
    assert_refused(publish_to(config, out, str(dest)), str(dest), "is a file, not a folder")
    assert dest.read_text() == "my notes"


def test_a_path_through_a_file_is_refused(site, tmp_path):
    config, out = site
    (tmp_path / "notes.txt").write_text("my notes")
    dest = str(tmp_path / "notes.txt" / "www")
    assert_refused(publish_to(config, out, dest), dest, "is a file, not a folder")
    assert (tmp_path / "notes.txt").read_text() == "my notes"


@pytest.mark.parametrize("through_link", [False, True])
def test_a_users_folder_is_never_replaced(site, tmp_path, through_link):
    config, out = site
    mine = tmp_path / "mine"
    (mine / "photos").mkdir(parents=True)
    (mine / "photos" / "cat.jpg").write_bytes(b"\xff\xd8 a cat")
    (mine / "index.html").write_text("<h1>my own page</h1>")
    dest = mine
    if through_link:
        dest = tmp_path / "www"
        dest.symlink_to(mine)
    before = snapshot(mine)
    result = publish_to(config, out, str(dest))
    assert_refused(result, str(dest), "readout did not publish", store.SITE_MARKER)
    assert snapshot(mine) == before


def test_an_empty_folder_or_a_site_readout_published_is_replaced(site, tmp_path):
    config, out = site
    dest = tmp_path / "www"
    dest.mkdir()
    assert publish_to(config, out, str(dest)).exit_code == 0
    assert (dest / store.SITE_MARKER).is_file() and (dest / "index.html").is_file()
    # Not published: working files, the outbox, the Quarto project.
    assert not list(dest.glob(".*"))
    assert not (dest / "outbox").exists() and not (dest / "quarto").exists()
    (dest / "stale.html").write_text("from an older publish")
    again = publish_to(config, out, str(dest))
    assert again.exit_code == 0, again.output
    assert not (dest / "stale.html").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["www"]


def test_copies_a_killed_publish_left_are_cleared_by_the_next(site, tmp_path):
    config, out = site
    dest = tmp_path / "www"
    assert publish_to(config, out, str(dest)).exit_code == 0
    # What a publish killed mid-copy and one killed between its two renames leave behind.
    for name in (".www.new-0123456789ab", ".www.old-ba9876543210"):
        shutil.copytree(dest, tmp_path / name)
    lookalike = tmp_path / ".www.new-aaaaaaaaaaaa"  # same name, but not readout's copy
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("not readout's")
    assert publish_to(config, out, str(dest)).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [".www.new-aaaaaaaaaaaa", "www"]


def test_a_site_lost_between_the_two_renames_is_put_back_first(site, tmp_path, monkeypatch):
    config, out = site
    dest = tmp_path / "www"
    assert publish_to(config, out, str(dest)).exit_code == 0
    os.replace(dest, tmp_path / ".www.old-0123456789ab")  # killed after the first rename

    def broken_copy(*args, **kwargs):
        raise OSError("disk full while copying")

    monkeypatch.setattr(publish.shutil, "copytree", broken_copy)
    result = publish_to(config, out, str(dest))
    assert result.exit_code == 1 and "disk full" in result.output
    assert (dest / "index.html").is_file()  # readers still have the previous site
    assert [p.name for p in tmp_path.iterdir()] == ["www"]


# --------------------------------------------------------------------------- rsync


@pytest.fixture
def remote_shell(tmp_path) -> dict[str, str]:
    """RSYNC_RSH that runs rsync's remote end on this machine: ``web01:/path`` is real."""
    script = tmp_path / "fake-ssh"
    script.write_text('#!/bin/sh\nwhile [ "$1" = "-l" ]; do shift 2; done\nshift\nexec "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"RSYNC_RSH": str(script)}


@pytest.mark.skipif(RSYNC is None, reason="rsync is not installed (make setup)")
def test_rsync_publishes_the_marker_and_replaces_only_its_own_site(site, tmp_path, remote_shell):
    config, out = site
    dest = f"web01:{tmp_path / 'www'}"
    first = publish_to(config, out, dest, env=remote_shell)
    assert first.exit_code == 0, first.output
    www = tmp_path / "www"
    assert (www / store.SITE_MARKER).is_file() and (www / "signup" / "2026-11-21").is_dir()
    assert not list(www.glob(".*")) and not (www / "outbox").exists()
    assert not (www / "quarto").exists()
    assert publish_to(config, out, dest, env=remote_shell).exit_code == 0


@pytest.mark.skipif(RSYNC is None, reason="rsync is not installed (make setup)")
def test_rsync_never_empties_a_users_remote_folder_or_file(site, tmp_path, remote_shell):
    config, out = site
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    before = snapshot(tmp_path)
    for dest, says in (
        (f"web01:{mine}", "readout did not publish"),
        (f"deploy@web01:{notes}", "is a file, not a folder"),
    ):
        assert_refused(publish_to(config, out, dest, env=remote_shell), dest, says)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("path", ["", "~", "~/", ".", "/"])
def test_rsync_to_a_remote_home_or_root_is_refused(site, path):
    config, out = site
    dest = f"web01:{path}"
    assert_refused(publish_to(config, out, dest), dest, "home or root folder of web01")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_rsync_to_this_machine_is_checked_like_a_local_folder(site, host):
    config, out = site
    for dest in (f"{host}:{out}", f"{host}:{config.parent}/data"):
        assert_refused(publish_to(config, out, dest), dest, "outside the project")


# --------------------------------------------------------------------------- killed runs

KILLS = [
    # (what is killed, the file it was writing, what runs next)
    ("render", "report.pdf", "run"),
    ("render", "report.pdf", "render"),
    ("rerender", "report.pdf", "run"),
    ("render", "index.html", "run"),
    ("run", ".status.json", "render"),
    ("quarto", "index.qmd", "quarto"),
    ("email", "*.eml", "email"),
    ("send", ".sent.json", "email"),
]


def _command(step: str, config: Path, out: Path) -> list[str]:
    where = ["--config", str(config), "--output", str(out)]
    return {
        "run": ["run", *where],
        "rerender": ["run", *where],
        "render": ["render", *where],
        "quarto": ["render", "--engine", "quarto", *where],
        "email": ["email", *where, "--dry-run"],
        "send": ["email", *where],
    }[step]


def leftovers(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if store.is_temporary(p.name))


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("killed")
    config = project(
        root,
        [{"name": "signup", "file": "good.csv", "extra": 'email = ["pm@example.com"]'}],
        {"good.csv": binary_frame()},
    )
    out = root / "reports"
    result = invoke("run", "--config", str(config), "--output", str(out), "--date", "2026-11-21")
    assert result.exit_code == 0, result.output
    return config, out


@pytest.mark.parametrize("killed, writing, then", KILLS)
def test_a_run_killed_mid_write_leaves_nothing_the_next_run_does_not_clear(
    finished, tmp_path, killed, writing, then
):
    proj = Path(shutil.copytree(finished[0].parent, tmp_path / "proj"))
    config, out = proj / "experiments.toml", proj / "reports"
    if killed == "rerender":
        # Templates or wording changed since: the run re-renders the published readout.
        (out / "signup" / "2026-11-21" / ".render_key").write_text("older templates")
    pdf = out / "signup" / "2026-11-21" / "report.pdf"
    before = pdf.read_bytes()
    process = subprocess.run(
        [*READOUT, *_command(killed, config, out)],
        env={**os.environ, **env(free_port()), files.KILL_WRITING: writing},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert process.returncode == -9, process.stderr  # killed by SIGKILL, as a power cut would
    left = leftovers(out)
    assert left, "the fault point left no temporary file"
    assert pdf.read_bytes()[:5] == b"%PDF-" and (
        writing != "report.pdf" or pdf.read_bytes() == before
    )
    # Nothing half-written is published, emailed or listed on the site meanwhile.
    published = tmp_path / "www"
    assert publish_to(config, out, str(published)).exit_code == 0
    assert not [p for p in published.rglob("*") if store.is_temporary(p.name)]
    result = invoke(*_command(then, config, out))
    assert result.exit_code == 0, result.output
    assert leftovers(out) == []
    assert pdf.read_bytes()[:5] == b"%PDF-"


# --------------------------------------------------------------------------- output folder


@pytest.mark.parametrize("command", [["run"], ["render"], ["render", "--engine", "quarto"]])
def test_runs_never_write_into_a_folder_readout_did_not_write(tmp_path, command):
    config = project(
        tmp_path, [{"name": "signup", "file": "good.csv"}], {"good.csv": binary_frame()}
    )
    mine = tmp_path / "website"
    (mine / "signup").mkdir(parents=True)
    (mine / "index.html").write_text("<h1>my own site</h1>")
    (mine / "signup" / "index.html").write_text("<h1>sign up here</h1>")
    before = snapshot(mine)
    result = invoke(*command, "--config", str(config), "--output", str(mine))
    assert result.exit_code == 2, result.output
    assert f"{mine}: is a folder readout did not write" in result.output
    assert "Fix:" in result.output and "Traceback" not in result.output
    assert snapshot(mine) == before and not list(mine.glob(".*"))


def test_an_empty_or_new_output_folder_is_fine_and_stays_readouts(tmp_path):
    config = project(
        tmp_path, [{"name": "signup", "file": "good.csv"}], {"good.csv": binary_frame()}
    )
    out = tmp_path / "reports"
    out.mkdir()
    (out / ".gitkeep").touch()
    assert invoke("run", "--config", str(config), "--output", str(out)).exit_code == 0
    (out / ".readout.lock").unlink()  # as the lock message allows
    assert invoke("render", "--config", str(config), "--output", str(out)).exit_code == 0


@pytest.mark.parametrize("name", ["outbox", "quarto"])
def test_an_experiment_named_like_readouts_own_folders_exits_2(tmp_path, name):
    config = project(tmp_path, [{"name": name, "file": "good.csv"}], {"good.csv": binary_frame()})
    result = invoke("validate", "--config", str(config))
    assert result.exit_code == 2, result.output
    assert f"name '{name}'" in result.output and "Fix:" in result.output
