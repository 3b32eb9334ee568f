"""The Quarto project: front matter parses, pandoc converts every .qmd, no refit."""

import shutil
import subprocess

import pytest
import yaml
from click.testing import CliRunner

from readout.cli import main
from tests.readout.test_cli import binary_frame, project

PANDOC = shutil.which("pandoc")


@pytest.fixture(scope="module")
def quarto_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("quarto")
    config = project(
        root,
        [{"name": "signup", "file": "good.csv", "title": "Signup: *bold* <b>claims</b> | 50% off"}],
        {"good.csv": binary_frame(n=8000)},
    )
    out = root / "reports"
    runner = CliRunner()
    assert (
        runner.invoke(
            main, ["run", "--config", str(config), "--output", str(out), "--date", "2026-11-21"]
        ).exit_code
        == 0
    )
    bundle = out / "signup" / "2026-11-21" / "bundle.json"
    stamp = bundle.stat().st_mtime_ns
    result = runner.invoke(
        main, ["render", "--engine", "quarto", "--config", str(config), "--output", str(out)]
    )
    assert bundle.stat().st_mtime_ns == stamp  # written from the bundle, not refitted
    return result, out / "quarto"


def front_matter(path):
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_without_quarto_the_project_is_written_and_the_command_says_so(quarto_project):
    result, folder = quarto_project
    assert result.exit_code == 0
    if shutil.which("quarto") is None:
        assert "Quarto is not installed" in result.output
        assert f"quarto render {folder}" in result.output
    assert yaml.safe_load((folder / "_quarto.yml").read_text())["project"]["type"] == "website"
    listing = front_matter(folder / "index.qmd")
    assert listing["listing"]["contents"] == "readouts/*/index.qmd"


def test_readout_front_matter_parses_and_keeps_the_title(quarto_project, tmp_path):
    _, folder = quarto_project
    page = folder / "readouts" / "signup-2026-11-21" / "index.qmd"
    meta = front_matter(page)
    # Quarto reads front-matter strings as Markdown: they are escaped like the body.
    assert meta["title"] == r"Signup\: \*bold\* \<b\>claims\</b\> \| 50% off"
    if PANDOC:
        template = tmp_path / "title.plain"
        template.write_text("$title$\n")
        shown = subprocess.run(
            [PANDOC, "-f", "markdown", "-t", "plain", "-s", "--template", template, page],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert shown == "Signup: *bold* <b>claims</b> | 50% off"
    assert meta["date"] == "2026-11-21"
    assert meta["description"] == "Ship B."
    assert meta["categories"] == ["ab_test", "ship"]


@pytest.mark.skipif(PANDOC is None, reason="Debian's pandoc is not installed (make setup)")
def test_pandoc_converts_every_qmd_to_html_without_error(quarto_project):
    _, folder = quarto_project
    files = sorted(folder.rglob("*.qmd"))
    assert len(files) == 2
    for path in files:
        result = subprocess.run(
            [PANDOC, "--fail-if-warnings", "-f", "markdown", "-t", "html", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    html = subprocess.run(
        [
            PANDOC,
            "-f",
            "markdown",
            "-t",
            "html",
            str(folder / "readouts" / "signup-2026-11-21" / "index.qmd"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "94% HDI" in html
    assert "<table>" in html
    assert 'alt="Density chart' in html or "fig-alt" in html
    assert (folder / "readouts" / "signup-2026-11-21" / "fig-lift.svg").is_file()
