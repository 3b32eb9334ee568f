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

from readout import render, store, wording
from readout.bundle import read
from readout.config import Config
from readout.errors import ConfigError
from readout.files import atomic_write_text

#: The first line of the ``_quarto.yml`` readout writes: how it knows the project is its own.
HEADER = "# Written by readout (readout render --engine quarto); rewritten on every render."
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Characters Markdown, raw HTML, attributes, math, fenced divs, lists, shortcodes or smart
#: punctuation could act on.
_MARKDOWN_SPECIAL = re.compile(r"""([\\`*_{}\[\]<>#|$@~^:!&"'=+-])""")
#: A text that would start a list at the beginning of a line: ``1.``, ``a)``, ``(ii)``.
_LIST_START = re.compile(r"^(\(?[A-Za-z0-9]+)([.)])")
_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: A figure's file: a plain name in its readout folder.
_FILE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


def _flat(text: object) -> str:
    """One line: line breaks and control characters become spaces; no edge spaces."""
    return _CONTROL.sub(" ", str(text)).strip()


def md(text: object) -> str:
    """Escape text for Markdown, so titles and data values show as written.

    Every character Markdown, raw HTML, Quarto shortcodes (``{{< ... >}}``) or smart
    punctuation could act on is backslash-escaped (so ``<script>`` stays text and no ``{{<``
    ever appears in a page); so are ``..`` runs and a leading list marker. Line breaks
    become spaces (a break would end a table row or a list item).
    """
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _flat(text))
    escaped = re.sub(r"\.(?=\.)", r"\\.", escaped)
    return _LIST_START.sub(r"\1\\\2", escaped)


def attribute(text: object) -> str:
    """A double-quoted Pandoc attribute value (``fig-alt``) that shows ``text`` as written.

    Pandoc unescapes backslash-escaped punctuation and character references inside a
    quoted value; every ASCII punctuation character is escaped, so no quote ends the value
    early, no ``&lt;`` turns into ``<`` and no shortcode forms.
    """
    return '"' + _ASCII_PUNCTUATION.sub(r"\\\1", _flat(text)) + '"'


def yaml_string(text: object) -> str:
    """A double-quoted YAML scalar (Quarto reads it as Markdown: pass it through ``md``)."""
    flat = _CONTROL.sub(" ", str(text))
    return '"' + flat.replace("\\", "\\\\").replace('"', '\\"') + '"'


def code(text: object) -> str:
    """A code (analysis name, verdict) as YAML; anything else is escaped as text."""
    return yaml_string(text if _SLUG.match(str(text)) else md(text))


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
    env.filters["attribute"] = attribute
    env.filters["code"] = code
    return env


def check_project(project: Path) -> None:
    """Refuse to write into a folder that is not readout's own Quarto project."""
    if not project.exists() and not project.is_symlink():
        return
    fix = (
        "move it elsewhere or give another --output (a project written by an older readout "
        "can be deleted: it is rewritten)"
    )
    if not project.is_dir():
        raise ConfigError(str(project), "is not a folder, and the Quarto project goes there", fix)
    config = project / store.QUARTO_CONFIG
    ours = config.is_file() and config.read_text(errors="replace").startswith(HEADER)
    if any(project.iterdir()) and not ours:
        raise ConfigError(
            str(project),
            f"is a folder readout did not write (no {store.QUARTO_CONFIG} of readout's in it), and "
            f"readout would write its {store.QUARTO_CONFIG}, {store.QUARTO_PAGE} and "
            f"{store.QUARTO_READOUTS}/ there",
            fix,
        )


def write_project(config: Config, output: Path) -> list[Path]:
    """Write the Quarto project for every readout; returns the ``.qmd`` files.

    Holds the output's lock (and clears what killed runs left) like ``readout render``.
    """
    from readout import runner

    project = store.quarto_project(output)
    env = _environment()
    written = []
    with runner.owning(output):
        check_project(project)
        # First: a render killed halfway leaves a folder readout still knows as its own.
        site = env.get_template("_quarto.yml.j2").render(header=HEADER)
        atomic_write_text(project / store.QUARTO_CONFIG, site)
        for experiment in config.experiments:
            for readout in store.readouts(output, experiment.name):
                bundle = read(readout / store.BUNDLE)
                for fig in bundle["figures"]:
                    if not _FILE_NAME.match(fig["file"]):
                        raise ConfigError(
                            str(readout / store.BUNDLE),
                            f"figure file '{fig['file']}' is not a file name in its folder",
                            f"re-run `readout run --only {experiment.name} --force`",
                        )
                text = wording.readout_text(bundle)
                target = store.quarto_readout(project, experiment.name, readout.name)
                target.mkdir(parents=True, exist_ok=True)
                for fig in bundle["figures"]:
                    shutil.copy2(readout / fig["file"], target / fig["file"])
                shutil.copy2(readout / store.BUNDLE, target / store.BUNDLE)
                qmd = target / store.QUARTO_PAGE
                page = env.get_template("readout.qmd.j2")
                atomic_write_text(qmd, page.render(bundle=bundle, text=text, date=readout.name))
                written.append(qmd)
        atomic_write_text(project / store.QUARTO_PAGE, env.get_template("listing.qmd.j2").render())
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
