"""``analyses.core.imports.import_once``: one thread's quick import, the others wait for it."""

import sys
import threading
import types

from analyses.core.imports import import_once


def test_a_thread_that_waited_finds_the_module_imported_and_imports_nothing(monkeypatch):
    name = "readout_test_imported_once"
    monkeypatch.delitem(sys.modules, name, raising=False)
    started, go = threading.Event(), threading.Event()
    calls = []

    def quickly() -> None:
        calls.append(threading.get_ident())
        started.set()
        go.wait(5)
        sys.modules[name] = types.ModuleType(name)

    found = {}

    def first() -> None:
        found["first"] = import_once(name, quickly)

    def second() -> None:
        found["second"] = import_once(name, quickly)

    one = threading.Thread(target=first)
    one.start()
    assert started.wait(5)  # the first holds the lock, its import half done
    two = threading.Thread(target=second)
    two.start()
    two.join(0.2)
    assert two.is_alive()  # waiting for the first's import
    go.set()
    one.join(5)
    two.join(5)
    assert len(calls) == 1
    assert found["first"] is found["second"] is sys.modules[name]
    monkeypatch.delitem(sys.modules, name)
