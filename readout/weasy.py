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
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from types import ModuleType

from analyses.core.imports import import_once


def load() -> ModuleType:
    """The ``weasyprint`` module, imported once a process the quick way (on Linux).

    One thread at a time (:func:`analyses.core.imports.import_once`).
    """
    if not sys.platform.startswith("linux"):
        import weasyprint

        return weasyprint
    return import_once("weasyprint", _import_quickly)


def _import_quickly() -> None:
    """Import WeasyPrint the quick way; where that fails to load a library, the usual way."""
    try:
        with quick_import():
            import weasyprint  # noqa: F401
    except OSError:
        for name in [m for m in sys.modules if m.split(".")[0] == "weasyprint"]:
            del sys.modules[name]
        import weasyprint  # noqa: F401


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
