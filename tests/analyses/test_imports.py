"""``analyses.core.imports``: one thread's quick import, the others wait for it; in the
program, what an import made is kept out of the collector's sight."""

import sys
import threading
import types

from analyses.core.imports import import_once
from tests.processes import in_fresh_process


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


def test_a_quick_import_that_starts_another_imports_both(monkeypatch):
    outer, inner = "readout_test_outer", "readout_test_inner"
    for name in (outer, inner):
        monkeypatch.delitem(sys.modules, name, raising=False)

    def inner_quickly() -> None:
        sys.modules[inner] = types.ModuleType(inner)

    def outer_quickly() -> None:
        import_once(inner, inner_quickly)  # in the outer import's own thread, holding the lock
        sys.modules[outer] = types.ModuleType(outer)

    done = threading.Thread(target=import_once, args=(outer, outer_quickly), daemon=True)
    done.start()
    done.join(5)
    assert not done.is_alive()  # no thread waits for a lock its own caller holds
    assert outer in sys.modules and inner in sys.modules
    for name in (outer, inner):
        monkeypatch.delitem(sys.modules, name)


_COLLECTION = """
import gc, json
from analyses.core import imports
imports.PROGRAM = {program}
before = gc.get_freeze_count()
with imports.out_of_collection():
    during = gc.isenabled()
    made = [{{"cycle": None}} for _ in range(50_000)]
    for item in made:
        item["cycle"] = item
print(json.dumps({{
    "before": before, "frozen": gc.get_freeze_count(), "during": during,
    "after": gc.isenabled(),
}}))
"""


def test_the_program_freezes_what_a_block_made_and_collects_again_after():
    seen = in_fresh_process(_COLLECTION.format(program=True))
    assert seen["during"] is False  # no collection walks the objects being made ...
    assert seen["frozen"] >= seen["before"] + 50_000  # ... which are never walked after
    assert seen["after"] is True  # the collector collects what is made later


def test_a_library_user_keeps_its_objects_collected():
    seen = in_fresh_process(_COLLECTION.format(program=False))
    assert seen["frozen"] == seen["before"]  # nothing frozen (the interpreter's own start may)
    assert seen["during"] is seen["after"] is True


_PYPLOT = """
import gc, json
from analyses.core import figures, imports
imports.PROGRAM = {program}
before = gc.get_freeze_count()
figures.pyplot()
print(json.dumps({{"frozen": gc.get_freeze_count() - before, "collecting": gc.isenabled()}}))
"""


def test_the_program_imports_pyplot_out_of_collection():
    program = in_fresh_process(_PYPLOT.format(program=True))
    library = in_fresh_process(_PYPLOT.format(program=False))
    # matplotlib's modules, classes and tables: out of the collector's sight in the program.
    assert program["frozen"] > 50_000
    assert library["frozen"] == 0
    assert program["collecting"] is library["collecting"] is True


def test_the_readout_command_is_the_program():
    from importlib.metadata import entry_points

    (command,) = entry_points(group="console_scripts", name="readout")
    assert command.value == "readout.__main__:entry"
    seen = in_fresh_process(
        "import atexit, json, sys\n"
        "from analyses.core import imports\n"
        "sys.argv = ['readout', '--help']\n"
        "atexit.register(lambda: print(json.dumps({'program': imports.PROGRAM})))\n"
        "from readout.__main__ import entry\n"
        "entry()\n"
    )
    assert seen == {"program": True}


_KEEPS_NOTHING = """
import gc, json, sys, types, weakref
from analyses.core import imports
imports.PROGRAM = True


class Readout:  # what a caller's frame holds while it imports (a readout's figures)
    pass


def quickly():  # an import that leaves a frame as cyclic garbage, as imports do
    try:
        raise ImportError("an optional part")
    except ImportError as exc:
        kept = exc  # the exception keeps its traceback, which keeps this frame: a cycle
    sys.modules["readout_test_garbage"] = types.ModuleType("readout_test_garbage")


def draw():
    readout = Readout()
    imports.import_once("readout_test_garbage", quickly)
    return weakref.ref(readout)


held = draw()
gc.collect()
print(json.dumps({"kept": held() is not None}))
"""


def test_what_an_import_leaves_frozen_holds_none_of_its_callers_frames():
    # The import's frames end at its own thread's start: the caller's readout is freed.
    assert in_fresh_process(_KEEPS_NOTHING) == {"kept": False}
