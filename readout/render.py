"""Render bundles into the self-contained HTML page, the PDF, and the site's index pages."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import jinja2

from readout import wording

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def environment() -> jinja2.Environment:
    """The Jinja2 environment: HTML autoescaping on, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["prob"] = wording.prob
    env.globals["verdict_label"] = wording.VERDICT_LABELS
    return env


def figure_uri(path: Path) -> str:
    """An SVG or PNG figure as a ``data:`` URI, so the page loads nothing from elsewhere."""
    kind = "svg+xml" if path.suffix == ".svg" else "png"
    return f"data:image/{kind};base64," + base64.b64encode(path.read_bytes()).decode()


def report_html(bundle: dict[str, Any], folder: Path) -> str:
    """The report page of one readout; figures are read from ``folder`` and inlined."""
    text = wording.readout_text(bundle)
    figures = [{**fig, "uri": figure_uri(folder / fig["file"])} for fig in bundle["figures"]]
    template = environment().get_template(f"{bundle['analysis']}.html.j2")
    return template.render(bundle=bundle, text=text, figures=figures)


def write_pdf(html: str, target: Path) -> None:
    """Print ``html`` to ``target`` with WeasyPrint, using the shipped fonts."""
    import weasyprint

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    fonts = weasyprint.text.fonts.FontConfiguration()
    css = weasyprint.CSS(filename=str(TEMPLATES / "print-fonts.css"), font_config=fonts)
    document = weasyprint.HTML(string=html, base_url=str(TEMPLATES), media_type="print")
    document.write_pdf(target, stylesheets=[css], font_config=fonts)


def render_readout(folder: Path) -> None:
    """(Re)write ``report.html`` and ``report.pdf`` in a readout folder from its bundle."""
    from readout.bundle import atomic_write_text, read

    bundle = read(folder / "bundle.json")
    html = report_html(bundle, folder)
    atomic_write_text(folder / "report.html", html)
    tmp = folder / ".report.pdf.tmp"
    write_pdf(html, tmp)
    tmp.replace(folder / "report.pdf")


def page(template: str, **context: Any) -> str:
    """Render one of the site's pages."""
    return environment().get_template(template).render(**context)
