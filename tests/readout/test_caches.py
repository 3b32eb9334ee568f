"""The compile caches: one folder per user, overridable, shared by every folder readout runs in."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from readout import caches, warm

VARIABLES = ("READOUT_CACHE_DIR", "XDG_CACHE_HOME", "PYTENSOR_FLAGS", "NUMBA_CACHE_DIR")


@pytest.fixture
def clean(monkeypatch):
    for name in (*VARIABLES, "MPLCONFIGDIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="the XDG rules are for Linux")
def test_the_folder_is_the_users_standard_cache_unless_overridden(clean, tmp_path):
    clean.setenv("HOME", str(tmp_path / "home"))
    assert caches.cache_dir() == tmp_path / "home" / ".cache" / "readout"
    clean.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert caches.cache_dir() == tmp_path / "xdg" / "readout"
    clean.setenv("XDG_CACHE_HOME", "relative/cache")  # not absolute: ignored, as the spec says
    assert caches.cache_dir() == tmp_path / "home" / ".cache" / "readout"
    clean.setenv("READOUT_CACHE_DIR", str(tmp_path / "mine"))
    assert caches.cache_dir() == tmp_path / "mine"


def test_pytensor_numba_and_matplotlib_are_pointed_at_it(clean, tmp_path):
    clean.setenv("READOUT_CACHE_DIR", str(tmp_path / "cache"))
    folder = caches.configure()
    assert folder == tmp_path / "cache" and folder.is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(folder / "numba")
    assert os.environ["MPLCONFIGDIR"] == str(folder / "matplotlib")
    flags = os.environ["PYTENSOR_FLAGS"].split(",")
    assert f"base_compiledir={folder / 'pytensor'}" in flags and "blas__ldflags=" in flags


def test_a_users_own_settings_win(clean, tmp_path):
    clean.setenv("READOUT_CACHE_DIR", str(tmp_path / "cache"))
    clean.setenv("PYTENSOR_FLAGS", "base_compiledir=/elsewhere,floatX=float64")
    clean.setenv("NUMBA_CACHE_DIR", "/numba-elsewhere")
    caches.configure()
    flags = os.environ["PYTENSOR_FLAGS"].split(",")
    assert [f for f in flags if f.startswith("base_compiledir")] == ["base_compiledir=/elsewhere"]
    assert "floatX=float64" in flags and "blas__ldflags=" in flags
    assert os.environ["NUMBA_CACHE_DIR"] == "/numba-elsewhere"


def test_an_unwritable_folder_falls_back_to_the_temporary_directory(clean, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the folder should be")
    clean.setenv("READOUT_CACHE_DIR", str(blocked / "readout"))
    clean.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    folder = caches.configure()
    assert folder.parent == tmp_path / "tmp" and folder.is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(folder / "numba")


def test_a_new_folder_compiles_into_the_users_cache(tmp_path):
    """The command line in a user's own folder makes the per-user folder, and PyTensor, as
    configured there, compiles into it: nothing into the project's ``.cache/``."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "values.csv").write_text("value\n" + "\n".join(str(i % 7) for i in range(60)))
    (folder / "experiments.toml").write_text(
        '[[experiments]]\nname = "m"\ntitle = "M"\nanalysis = "mixture"\n'
        'data = "values.csv"\nvalue = "value"\ncomponents = 2\n'
    )
    env = {k: v for k, v in os.environ.items() if k not in (*VARIABLES, "MPLCONFIGDIR")}
    env["READOUT_CACHE_DIR"] = str(tmp_path / "user-cache")
    readout = Path(sys.executable).parent / "readout"
    done = subprocess.run(
        [str(readout), "validate"], cwd=folder, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "user-cache").is_dir()
    script = "from readout import caches; caches.configure(); import pytensor; "
    script += "print(pytensor.config.compiledir)"
    where = subprocess.run(
        [sys.executable, "-c", script], cwd=folder, env=env, capture_output=True, text=True
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(tmp_path / "user-cache" / "pytensor")
    assert not (folder / ".cache").exists()


def test_warming_is_done_once_per_versions_and_model(clean, tmp_path, capsys):
    clean.setenv("READOUT_CACHE_DIR", str(tmp_path / "cache"))
    folder = caches.configure()
    mark = warm.stamp(folder)
    assert mark.parent == folder and mark.name.startswith("warm-")
    mark.write_text("compiled\n")
    warm.main()  # finds the stamp: compiles nothing
    assert "already in" in capsys.readouterr().out
