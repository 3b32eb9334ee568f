"""A Quarto website project from the same bundles and the same words as the HTML site.

``readout render --engine quarto`` writes ``<output>/quarto/``: ``_quarto.yml``, a listing
page, and one ``.qmd`` per readout whose numbers come from its bundle through the wording
module (nothing is refitted). When the ``quarto`` program is installed the project is
rendered (HTML, and PDF through Typst); when it is not, readout says so and stops there.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from readout import render, tree, wording
from readout.bundle import atomic_write_text, read
from readout.config import Config

FOLDER = "quarto"
#: Characters Markdown, raw HTML, attributes, math, fenced divs or images could act on.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|$@~^:!&])")


def md(text: object) -> str:
    """Escape text for Markdown, so titles and data values show as written.

    Every character Markdown or raw HTML could act on is backslash-escaped (so ``<script>``
    stays text), and line breaks become spaces (a break would end a table row or a list item).
    """
    flat = re.sub(r"[\r\n\t]+", " ", str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def yaml_string(text: object) -> str:
    """A double-quoted YAML scalar (Quarto reads it as Markdown: pass it through ``md``)."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(render.TEMPLATES),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["yaml"] = yaml_string
    return env


def write_project(config: Config, output: Path) -> list[Path]:
    """Write the Quarto project for every readout; returns the ``.qmd`` files."""
    project = output / FOLDER
    env = _environment()
    written = []
    for experiment in config.experiments:
        for readout in tree.readouts(output, experiment.name):
            bundle = read(readout / tree.BUNDLE)
            text = wording.readout_text(bundle)
            target = project / "readouts" / f"{experiment.name}-{readout.name}"
            target.mkdir(parents=True, exist_ok=True)
            for fig in bundle["figures"]:
                shutil.copy2(readout / fig["file"], target / fig["file"])
            shutil.copy2(readout / "bundle.json", target / "bundle.json")
            qmd = target / "index.qmd"
            atomic_write_text(
                qmd, env.get_template("readout.qmd.j2").render(bundle=bundle, text=text)
            )
            written.append(qmd)
    atomic_write_text(project / "_quarto.yml", env.get_template("_quarto.yml.j2").render())
    atomic_write_text(project / "index.qmd", env.get_template("listing.qmd.j2").render())
    return written


def render_project(project: Path) -> tuple[bool, str]:
    """Run ``quarto render`` when Quarto is installed; otherwise say why not."""
    quarto = shutil.which("quarto")
    if quarto is None:
        return False, (
            f"Quarto is not installed, so the project in {project} was written but not "
            f"rendered; install Quarto (quarto.org) and run `quarto render {project}`"
        )
    subprocess.run([quarto, "render", str(project)], check=True)
    return True, f"rendered the Quarto project in {project}"
