"""WeasyPrint, imported without the work its import does that printing never uses.

Two costs of ``import weasyprint`` on Linux, 0.6 s of the printer's second of set-up on
a two-core host (a one-readout run's critical path, :mod:`readout.printer`):

- Library probing. WeasyPrint tries several names for each C library it loads (GObject,
  Pango, HarfBuzz, Fontconfig), the Windows and macOS names first, and cffi answers each
  name that does not load with ``ctypes.util.find_library``, which on Linux runs
  ``ldconfig -p``, then ``gcc`` and ``ld`` (22 lookups, each a few subprocesses: WeasyPrint
  issue #1125). While it imports, a lookup answers "not found" at once, and WeasyPrint
  goes on to the Linux names (``libpango-1.0.so.0``), which the dynamic loader finds by its
  own search: its cache, ``LD_LIBRARY_PATH`` (the same files, tested).
- Certificates. Each stylesheet WeasyPrint parses as it imports (its user-agent
  stylesheets) gets a default URL fetcher, whose HTTPS handler loads the system's trusted
  certificates (55 ms each). Those fetchers never fetch: the stylesheets are strings
  without URLs. While it imports, they get an SSL context that trusts no certificate; it
  would refuse any server.

Both apply in the importing thread only (another thread, such as a warehouse query beside
the import, :func:`readout.runner._prefetched`, looks up and connects as usual) and are
undone after the import. On Linux ``find_library`` returns a library's name, which the
loader then searches for as it does the Linux names WeasyPrint tries; should WeasyPrint
still fail to load a library the quick way, it is imported again the usual way.

Then, on every platform, one cost of printing: each C type WeasyPrint names to cffi for the
first time (``ffi.new("hb_codepoint_t[69]")``: a font's glyphs, a new length at every
subset) is parsed by pycparser together with a declaration of every one of WeasyPrint's
typedefs: 4-8 ms each (30 ms once), 0.1-0.2 s of a process's first page, a few
milliseconds of every page after. The simple ones (a name, a pointer to one, an array of
them) are read here instead (:func:`quick_types`), into the same cffi types.

And one cost of laying out: WeasyPrint asks Pango for the first line of a text at a width
(``split_first_line``) again and again, the same text in the same style at the same width:
a table cell's at its minimum, at its maximum and where it is laid out, a page printed
again a little tighter, the same headings, labels and sentences on every readout a process
prints. Its answer depends on the text, the width and a few of the style's properties only;
it is remembered (:func:`lines_once`): four calls in five, a sixth of a page's layout.

And one cost of styling: WeasyPrint's user-agent stylesheet gives every element five
pseudo-elements a footnote or a note needs (``::footnote-call``, ``::note-marker``...),
whose styles it cascades and computes for each element of each page, then never reads on a
page that has neither: a seventh of a page's printing. A page that cannot have one is
printed without them (:func:`without_notes`).
"""

from __future__ import annotations

import contextlib
import re
import sys
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from analyses.core.imports import import_once


def load() -> ModuleType:
    """The ``weasyprint`` module, imported once a process the quick way (:func:`_import_quickly`).

    One thread at a time (:func:`analyses.core.imports.import_once`).
    """
    return import_once("weasyprint", _import_quickly)


def _import_quickly() -> None:
    """Import WeasyPrint, its simple C types read without cffi's parser (:func:`quick_types`).

    On Linux the quick way (:func:`quick_import`); where that fails to load a library, the
    usual way.
    """
    if not sys.platform.startswith("linux"):
        import weasyprint  # noqa: F401
    else:
        try:
            with quick_import():
                import weasyprint  # noqa: F401
        except OSError:
            for name in [m for m in sys.modules if m.split(".")[0] == "weasyprint"]:
                del sys.modules[name]
            import weasyprint  # noqa: F401
    from weasyprint.text.ffi import ffi

    quick_types(ffi)
    lines_once()


def trusting_no_one():
    """An HTTPS context that trusts no certificate, for a fetcher that never uses HTTPS.

    Made in a millisecond, where the default context loads the system's certificates.
    """
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@contextlib.contextmanager
def quick_import() -> Iterator[None]:
    """In this thread, library lookups answer "not found" and HTTPS contexts trust no one."""
    import ctypes.util
    import ssl

    importer = threading.get_ident()
    find_library = ctypes.util.find_library
    https_context = ssl._create_default_https_context

    def not_found(name: str) -> str | None:
        return None if threading.get_ident() == importer else find_library(name)

    def default_context(*args, **kwargs) -> ssl.SSLContext:
        if threading.get_ident() == importer:
            return trusting_no_one()
        return https_context(*args, **kwargs)

    ctypes.util.find_library = not_found
    ssl._create_default_https_context = default_context
    try:
        yield
    finally:
        ctypes.util.find_library = find_library
        ssl._create_default_https_context = https_context


#: A C type simple enough to read without a C parser: a name (a typedef's, or a primitive's
#: such as ``unsigned int``), then stars (a pointer to it) or ``[N]`` / ``[]`` (an array).
#: ASCII only, as C is (a length written ``010`` is octal to cffi: left to it; so is a space
#: pycparser refuses, such as a carriage return).
_SIMPLE_TYPE = re.compile(
    r"[ \t\n\v\f]*(?P<name>[A-Za-z_]\w*(?:[ \t\n\v\f]+[A-Za-z_]\w*)*)[ \t\n\v\f]*"
    r"(?:(?P<stars>(?:\*[ \t\n\v\f]*)+)|\[[ \t\n\v\f]*(?P<length>0|[1-9][0-9]*)?[ \t\n\v\f]*\])?",
    re.ASCII,
)


def quick_types(ffi: Any) -> None:
    """``ffi`` reads the simple C types it has not met (:data:`_SIMPLE_TYPE`) without parsing.

    cffi keeps the types it has read in a dict (``ffi._parsed_types``) and parses a string
    it does not find there. That dict, kept as it is, now answers such a string itself
    (``__missing__``) with the type cffi's parser would make from it (the same
    ``cffi.model`` type, hence the same ``ctype`` object); anything else (a qualifier, a
    struct keyword, a function type, an unknown name) is parsed by cffi as before. Where a
    later cffi keeps its types otherwise, nothing changes.
    """
    parsed = getattr(ffi, "_parsed_types", None)
    if isinstance(parsed, dict) and not isinstance(parsed, _QuickTypes):
        ffi._parsed_types = _QuickTypes(ffi, parsed)


class _QuickTypes(dict):
    """cffi's parsed types, which make a simple type they lack (:func:`quick_types`)."""

    def __init__(self, ffi: Any, parsed: dict) -> None:
        super().__init__(parsed)
        self.ffi = ffi

    def __missing__(self, cdecl: Any) -> tuple[Any, bool]:
        kind = simple_type(self.ffi, cdecl) if isinstance(cdecl, str) else None
        if kind is None:
            raise KeyError(cdecl)  # cffi parses it
        with self.ffi._lock:
            result = self.ffi._get_cached_btype(kind), False
        self[cdecl] = result
        return result


def simple_type(ffi: Any, cdecl: str) -> Any:
    """The ``cffi.model`` type cffi's parser makes of ``cdecl``, where it is simple; else None.

    As cffi's parser resolves it (``cffi.cparser.Parser._get_type_and_quals``): a name is a
    declared typedef, else one of cffi's common types; a pointer is made by the parser's own
    ``_get_type_pointer``; an array is ``model.ArrayType`` (``None`` for ``[]``).
    """
    from cffi import model
    from cffi.commontypes import resolve_common_type

    found = _SIMPLE_TYPE.fullmatch(cdecl)
    if found is None:
        return None
    name = " ".join(found["name"].split())  # one space between words, as cffi joins them
    if " " in name and name not in model.PrimitiveType.ALL_PRIMITIVE_TYPES:
        return None  # "struct x", "long int", "const char": cffi's own reading
    parser = ffi._parser
    try:
        if name == "void":
            kind, quals = model.void_type, 0
        elif "typedef " + name in parser._declarations:
            kind, quals = parser._declarations["typedef " + name]
        else:
            kind, quals = resolve_common_type(parser, name)
    except Exception:  # noqa: BLE001 - unknown here: cffi's parser says what is wrong
        return None
    stars, array = (found["stars"] or "").count("*"), found["stars"] is None and "[" in cdecl
    if kind.is_raw_function or (array and kind is model.void_type):
        return None
    for _ in range(stars):
        kind, quals = parser._get_type_pointer(kind, quals), 0
    if array:
        kind = model.ArrayType(kind, int(found["length"]) if found["length"] else None)
    return kind


#: The style properties WeasyPrint's first line of a text reads (``text/line_break.py``'s
#: ``split_first_line`` with ``Layout``, ``fonts.get_font_description`` and
#: ``fonts.font_features``): with the text, the width, the justification spacing, whether
#: the line starts a line box, whether the minimum is asked and the fonts, its whole input.
#: A test reads WeasyPrint's source for the properties it names.
LINE_STYLE = (
    "direction", "font_family", "font_feature_settings", "font_kerning",
    "font_language_override", "font_size", "font_stretch", "font_style",
    "font_variant_alternates", "font_variant_caps", "font_variant_east_asian",
    "font_variant_ligatures", "font_variant_numeric", "font_variant_position",
    "font_variation_settings", "font_weight", "hyphenate_character",
    "hyphenate_limit_chars", "hyphenate_limit_zone", "hyphens", "lang", "letter_spacing",
    "line_height", "overflow_wrap", "tab_size", "text_decoration_line", "white_space",
    "word_break", "word_spacing",
)  # fmt: skip
#: The first lines a process remembers; the oldest are forgotten beyond it (a page has
#: about 150 new ones).
LINES_KEPT = 20_000
#: A text longer than this is laid out afresh each time (a cell's preferred width asks for
#: each tail of its text: kept, a long text's tails would grow with its square).
LONGEST_TEXT = 2_000
#: Font faces added to any of WeasyPrint's font configurations in this process: a line
#: remembered before a face was added is not read after it (its family may be the new face).
_FACES_ADDED = [0]


def lines_once() -> None:
    """WeasyPrint's first line of a text at a width computed once a process (:func:`first_line`).

    ``split_first_line`` is replaced where WeasyPrint's modules read it: its own module
    (the SVG texts import it from there when they draw) and the inline layout's (the
    preferred widths import it from there too). Each font face a font configuration adds
    from then on is counted (:data:`_FACES_ADDED`, in the key).
    """
    from weasyprint.layout import inline, preferred
    from weasyprint.text import line_break
    from weasyprint.text.fonts import FontConfiguration

    split = line_break.split_first_line
    if getattr(split, "remembered", False):
        return
    remembered = first_line(split)
    for module in (line_break, inline, preferred):
        if getattr(module, "split_first_line", None) is split:
            module.split_first_line = remembered
    add_font_face = FontConfiguration.add_font_face

    def counted_add_font_face(self, *args, **kwargs):
        try:
            return add_font_face(self, *args, **kwargs)
        finally:
            _FACES_ADDED[0] += 1

    FontConfiguration.add_font_face = counted_add_font_face


def first_line(split: Any, kept: int = LINES_KEPT) -> Any:
    """``split`` (WeasyPrint's ``split_first_line``), remembering its answers.

    Its answer is ``(layout, length, resume_index, width, height, baseline)``, the layout
    put aside (no Pango object: its text, width and metrics, set up again to be drawn);
    each caller gets a copy of the layout (drawing may shorten its text), the same numbers.
    The key is the call's input (:data:`LINE_STYLE`, the fonts' configuration itself and
    the faces added to any since, :data:`_FACES_ADDED`); a style value that cannot be a key
    (a ``calc()`` WeasyPrint resolves against others) and a text longer than
    :data:`LONGEST_TEXT` are asked every time; a list (an SVG text's font families) is read
    as a tuple. Beyond ``kept`` answers the oldest are forgotten.
    """
    import copy

    memo: dict = {}

    def split_first_line(
        text, style, context, max_width, justification_spacing, is_line_start=True, minimum=False
    ):
        def ask():
            return split(
                text, style, context, max_width, justification_spacing, is_line_start, minimum
            )

        if len(text) > LONGEST_TEXT or getattr(style["hyphenate_limit_zone"], "unit", None) is None:
            return ask()  # a long text, or a calc() resolved against other values
        try:
            key = (
                text, max_width, justification_spacing, is_line_start, minimum,
                style.font_config, _FACES_ADDED[0], *[_as_key(style[name]) for name in LINE_STYLE],
            )  # fmt: skip
            found = memo.get(key)
        except TypeError:  # a value that cannot be a key
            return ask()
        if found is None:
            found = ask()
            if len(memo) >= kept:
                with contextlib.suppress(StopIteration, RuntimeError, KeyError):
                    del memo[next(iter(memo))]  # another thread may have just done so
            memo[key] = found
        return (copy.copy(found[0]), *found[1:])

    split_first_line.remembered = True
    split_first_line.memo = memo
    split_first_line.asks = split
    return split_first_line


def _as_key(value: Any) -> Any:
    """A style value as a key: a list (an SVG text's font families) as a tuple."""
    return tuple(value) if type(value) is list else value


#: The pseudo-elements WeasyPrint's user-agent stylesheet gives every element and reads
#: only for a footnote (an element floated ``footnote``) or a note (positioned ``note()``).
NOTES = frozenset({"footnote-call", "footnote-marker", "note-call", "note-marker", "note-callback"})


def may_have_notes(*texts: str) -> bool:
    r"""Whether HTML or CSS ``texts`` may make a footnote or a note: they name either.

    In any case (CSS keywords are not case-sensitive), or with a backslash anywhere (an
    escaped letter, ``foot\6e ote``, may spell either).
    """
    return any(
        "\\" in text or "footnote" in (low := text.lower()) or "note(" in low for text in texts
    )


def without_notes(source: Any) -> None:
    """A WeasyPrint ``HTML`` ``source`` styled without the footnotes' and notes' pseudo-elements.

    Its user-agent stylesheets (:data:`NOTES`'s rules left out of each, :func:`_trimmed`):
    the same styles for every element and pseudo-element WeasyPrint reads on a page without
    footnotes and notes (the caller knows it has none: :func:`may_have_notes`), where it
    would look one up for a footnote and fail. The same boxes, the same PDF (tested).
    """
    stylesheets = source._ua_stylesheets

    def trimmed_stylesheets(forms: bool = False) -> list[Any]:
        return [_trimmed(sheet) for sheet in stylesheets(forms=forms)]

    source._ua_stylesheets = trimmed_stylesheets


_TRIMMED: dict[int, tuple[Any, Any]] = {}


def _trimmed(sheet: Any) -> Any:
    """A copy of a parsed stylesheet whose selector matcher lacks :data:`NOTES`; once a sheet.

    Those selectors (``::footnote-call`` and the like, on any element) are among the
    matcher's "other" selectors, each ``(test, specificity, order, pseudo-element,
    declarations)``; the rest of the matcher is shared with the stylesheet's own.
    """
    import copy

    found = _TRIMMED.get(id(sheet))
    if found is not None and found[0] is sheet:
        return found[1]
    matcher = copy.copy(sheet.matcher)
    matcher.other_selectors = [e for e in matcher.other_selectors if e[3] not in NOTES]
    trimmed = copy.copy(sheet)
    trimmed.matcher = matcher
    _TRIMMED[id(sheet)] = sheet, trimmed
    return trimmed
