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
