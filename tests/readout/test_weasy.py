"""WeasyPrint imported the quick way: the same libraries, no subprocess, nothing else touched."""

import ctypes.util
import json
import ssl
import sys
import threading

import pytest

from readout import weasy
from tests.processes import last_line

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")

#: The start of a fresh process's code: the subprocesses it starts listed in ``started``.
_STARTED = """
import sys
started = []
def hook(event, args):
    if event == "subprocess.Popen":
        started.append(str(args[1]))
sys.addaudithook(hook)
"""


#: In a fresh process: import WeasyPrint (plainly or the quick way), then print the
#: subprocesses started meanwhile and the C libraries loaded (their files, from the maps).
_IMPORT = (
    _STARTED.replace("{", "{{").replace("}", "}}")
    + """
import json, ssl
certificates = []
load_default_certs = ssl.SSLContext.load_default_certs
def counted(self, *args, **kwargs):
    certificates.append(1)
    return load_default_certs(self, *args, **kwargs)
ssl.SSLContext.load_default_certs = counted
if {quick}:
    from readout import weasy
    weasyprint = weasy.load()
else:
    import weasyprint
names = ("libpango", "libgobject", "libharfbuzz", "libfontconfig", "libglib")
libraries = sorted({{
    line.split()[-1] for line in open("/proc/self/maps") if any(n in line for n in names)
}})
loaded = len(certificates)
pdf = weasyprint.HTML(string="<p>Readout</p>").write_pdf()
print(json.dumps({{
    "started": started, "libraries": libraries, "certificates": loaded, "pdf": pdf[:5].decode()
}}))
"""
)


def _imported(quick: bool) -> dict:
    return json.loads(last_line(_IMPORT.format(quick=quick)))


def test_the_quick_import_loads_the_same_libraries_and_starts_no_process():
    plain, quick = _imported(False), _imported(True)
    # WeasyPrint's own import looks libraries up with ldconfig, gcc and ld ...
    assert plain["started"], "the plain import ran no lookup: nothing left to compare"
    # ... the quick one with none, and loads the very same files, and prints.
    assert quick["started"] == []
    # WeasyPrint's own import loads the trusted certificates for fetchers that never fetch;
    # the quick one does not.
    assert plain["certificates"] >= 3
    assert quick["certificates"] == 0
    assert quick["libraries"] == plain["libraries"]
    assert any("libpango-1.0" in path for path in quick["libraries"])
    assert quick["pdf"] == plain["pdf"] == "%PDF-"


def test_the_quick_import_touches_the_importing_thread_only_and_is_undone():
    find_library, https_context = ctypes.util.find_library, ssl._create_default_https_context
    trusted = https_context().cert_store_stats()["x509_ca"]
    libc = find_library("c")
    assert libc, "no C library found the usual way: nothing to compare"
    assert trusted > 0, "no certificates trusted by default: nothing to compare"
    elsewhere = {}

    def other_thread():
        elsewhere["library"] = ctypes.util.find_library("c")
        elsewhere["trusted"] = ssl._create_default_https_context().cert_store_stats()["x509_ca"]

    with weasy.quick_import():
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        here = ctypes.util.find_library("c"), ssl._create_default_https_context()
    # Another thread (a warehouse query beside the import) looks up and trusts as usual.
    assert elsewhere == {"library": libc, "trusted": trusted}
    # The importing thread: nothing found, a context that trusts no certificate and checks.
    assert here[0] is None
    assert here[1].cert_store_stats()["x509_ca"] == 0
    assert here[1].verify_mode == ssl.CERT_REQUIRED and here[1].check_hostname
    # Undone after.
    assert ctypes.util.find_library is find_library
    assert ssl._create_default_https_context is https_context


#: In a fresh process: the quick import made to fail as where a library cannot be loaded
#: that way (every library load fails while it imports); WeasyPrint is then imported again
#: the usual way, whole.
_FAILING = """
import contextlib
import cffi.api
from readout import weasy

quick = weasy.quick_import

@contextlib.contextmanager
def failing():
    load = cffi.api._load_backend_lib
    def refuse(*args):
        raise OSError("not found the quick way")
    cffi.api._load_backend_lib = refuse
    try:
        with quick():
            yield
    finally:
        cffi.api._load_backend_lib = load

import ctypes.util, ssl
find_library, https_context = ctypes.util.find_library, ssl._create_default_https_context
weasy.quick_import = failing
weasyprint = weasy.load()
# The lookups are the usual ones again, and WeasyPrint prints.
assert ctypes.util.find_library is find_library
assert ssl._create_default_https_context is https_context
print(weasyprint.HTML(string="<p>Readout</p>").write_pdf()[:5].decode())
"""


def test_a_library_the_quick_import_cannot_load_is_loaded_the_usual_way():
    assert last_line(_FAILING) == "%PDF-"


#: In a fresh process: the first page a process prints (a ``-j`` worker's, which imports
#: WeasyPrint at its first page), the subprocesses started meanwhile. The process ends
#: without the interpreter's teardown, which an audit hook makes crash once WeasyPrint has
#: printed (CPython's or cffi's matter: the code before this module's did the same).
_FIRST_PAGE = (
    _STARTED
    + """
import os
from readout import render
document = render.print_document("<html><body><p>Readout</p></body></html>")
print(len(document.pages), started, flush=True)
os._exit(0)
"""
)


def test_a_process_first_page_imports_weasyprint_the_quick_way():
    assert last_line(_FIRST_PAGE) == "1 []"
