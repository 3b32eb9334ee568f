"""A Quarto website project from the same bundles and the same words as the HTML site.

``readout render --engine quarto`` writes ``<output>/quarto/``: ``_quarto.yml``, a listing
page, and one ``.qmd`` per readout whose numbers come from its bundle through the wording
module (nothing is refitted). When the ``quarto`` program is installed the project is
rendered (HTML, and PDF through Typst); when it is not, readout says so and stops there.

The pages show what the HTML pages show, from the same codes: the listing's categories are
the analysis's name and the verdict's label, the verdict box takes its colour from the
verdict's tone (:data:`CALLOUTS`), and the full tables the wording points to are copied
beside each page and linked from it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from analyses.core.base import Tone
from readout import bundle as bundles
from readout import render, store, wording
from readout.bundle import read
from readout.config import Config
from readout.errors import ConfigError
from readout.files import atomic_write_text
from readout.wording.ab_test.planned import short_progress

#: The first line of the ``_quarto.yml`` readout writes: how it knows the project is its own.
HEADER = "# Written by readout (readout render --engine quarto); rewritten on every render."
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
#: Characters Markdown, raw HTML, attributes, math, fenced divs, lists, shortcodes or smart
#: punctuation could act on.
_MARKDOWN_SPECIAL = re.compile(r"""([\\`*_{}\[\]<>#|$@~^:!&"'=+-])""")
#: A text that would start a list at the beginning of a line: ``1.``, ``a)``, ``(ii)``.
_LIST_START = re.compile(r"^(\(?[A-Za-z0-9]+)([.)])")
_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
#: A figure's or a table's file: a plain name in its readout folder.
_FILE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
#: A sign that starts a number (``+3%``, ``-0.5``, ``+$0.21``, not a hyphen inside a word or a
#: date): a word joiner after it keeps it on its number's line, in Typst and in browsers.
_SIGN = re.compile(r"(?<![\w.])([+\-\u2212\u00b1])(?=[^\s\w]?\d)")
WORD_JOINER = "\u2060"
#: The callout a verdict's box is, by the verdict's tone: coloured as the HTML page colours
#: its verdict (``report.css``: good green, bad red, withheld amber, neutral blue).
CALLOUTS = {Tone.GOOD: "tip", Tone.BAD: "important", Tone.WITHHELD: "warning", Tone.NEUTRAL: "note"}
#: A table's columns share a line of about this many characters (Typst's 11 pt on a page;
#: a browser's line is longer): each gets its longest word and an inset of ``_PAD``, and
#: what is left goes to the columns whose cells are longer, in proportion (up to ``_WIDEST``).
_LINE, _PAD, _WIDEST = 80, 3, 40


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
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", _SIGN.sub(r"\1" + WORD_JOINER, _flat(text)))
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


def rule(table: wording.Table) -> str:
    """A pipe table's line under its header: every column left-aligned, as on the HTML page.

    A wide table's columns share the line by the dashes here (pandoc and Quarto read them
    as relative widths): no column narrower than its longest word, so a cell never spills
    into the next and no word is hyphenated, and the rest shared by how long the cells are.
    """
    columns = list(zip(table.head, *table.rows, strict=True))
    need = [_PAD + max(len(w) for cell in cells for w in [*cell.split(), ""]) for cells in columns]
    want = [
        max(n, _PAD + min(_WIDEST, max(map(len, cells))))
        for n, cells in zip(need, columns, strict=True)
    ]
    spare, extra = _LINE - sum(need), sum(want) - sum(need)
    if extra > spare > 0:
        want = [n + round((w - n) * spare / extra) for n, w in zip(need, want, strict=True)]
    elif spare <= 0:
        want = need
    return "|" + "".join(":" + "-" * max(2, width - 1) + "|" for width in want)


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
    env.filters["rule"] = rule
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
    with store.owning(output, "render --engine quarto"):
        check_project(project)
        # The programme as ``run`` reads it; a page whose bundle changed is re-rendered too.
        site_url = config.settings.site_url
        runner.reapply_programme(config, output, lambda folder: runner._render(folder, site_url))
        # First: a render killed halfway leaves a folder readout still knows as its own.
        site = env.get_template("_quarto.yml.j2").render(header=HEADER)
        atomic_write_text(project / store.QUARTO_CONFIG, site)
        for experiment in config.experiments:
            for readout in store.readouts(output, experiment.name):
                bundle = read(readout / store.BUNDLE)
                files = _files(readout, bundle, experiment.name)
                text = wording.readout_text(bundle)
                target = store.quarto_readout(project, experiment.name, readout.name)
                target.mkdir(parents=True, exist_ok=True)
                for name in [*files, store.BUNDLE]:
                    shutil.copy2(readout / name, target / name)
                qmd = target / store.QUARTO_PAGE
                atomic_write_text(qmd, page(bundle, readout.name, text, env))
                written.append(qmd)
        atomic_write_text(project / store.QUARTO_PAGE, env.get_template("listing.qmd.j2").render())
    return written


def page(bundle: dict, date: str, text: wording.Text | None = None, env=None) -> str:
    """One readout's ``.qmd`` page, from its bundle (and its words, when made already)."""
    text = text or wording.readout_text(bundle)
    return (
        (env or _environment())
        .get_template("readout.qmd.j2")
        .render(
            bundle=bundle,
            text=text,
            date=date,
            analysis=wording.analysis_label(bundle["analysis"]),
            callout=CALLOUTS[Tone(text.tone)],
            tables=bundle.get("tables", []),
            progress=short_progress(bundles.typed(bundle)),
        )
    )


def _files(readout: Path, bundle: dict, experiment: str) -> list[str]:
    """The figures and full tables a readout's page shows or links: plain names, all there."""
    files = [("figure", f["file"]) for f in bundle["figures"]]
    files += [("table", t["file"]) for t in bundle.get("tables", [])]
    for kind, name in files:
        problem = None
        if not _FILE_NAME.match(name):
            problem = f"{kind} file '{name}' is not a file name in its folder"
        elif not (readout / name).is_file():
            problem = f"{kind} file '{name}' is missing beside it"
        if problem:
            raise ConfigError(
                str(readout / store.BUNDLE),
                problem,
                f"re-run `readout run --only {experiment} --force`",
            )
    return [name for _, name in files]


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
