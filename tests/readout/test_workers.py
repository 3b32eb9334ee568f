"""A run's pool workers keep what they hold out of the collector's sight, and nothing more."""

import gc
import sys
import weakref

import pytest

from readout.workers import Workers

#: A standard module nothing in readout imports: a task that imports it loads a module.
FRESH = "tabnanny"
#: In a worker: a weak reference to the reference cycle the last task left as garbage.
_LEFT = None


class _Node:
    pass


def _import_and_leave_a_cycle(name: str) -> int:
    """Import ``name``, leave a cycle of garbage behind; the freeze count before settling."""
    global _LEFT
    __import__(name)
    node = _Node()
    node.me = node
    _LEFT = weakref.ref(node)
    del node
    return gc.get_freeze_count()


def _state(name: str) -> tuple[int, bool, bool]:
    """The freeze count, whether the cycle left before was collected, whether ``name`` is loaded."""
    return gc.get_freeze_count(), _LEFT is None or _LEFT() is None, name in sys.modules


def _fails() -> None:
    raise ValueError("the task's own error")


def test_a_worker_freezes_what_it_inherits_and_what_a_task_imported_but_no_garbage():
    if FRESH in sys.modules:
        pytest.skip(f"{FRESH} is already imported in this process")
    with Workers(1) as pool:
        inherited = pool.submit(_state, FRESH).result()[0]
        assert inherited > 1000  # the modules this process had at the fork
        before = pool.submit(_import_and_leave_a_cycle, FRESH).result()
        assert before == inherited
        frozen, collected, loaded = pool.submit(_state, FRESH).result()
        assert loaded and collected  # the cycle was collected before the freeze
        assert frozen > inherited  # the task loaded a module: what the worker held is frozen
        # A task that loads nothing freezes nothing more (a frozen object freed leaves it).
        assert pool.submit(_import_and_leave_a_cycle, FRESH).result() <= frozen
        again, _, _ = pool.submit(_state, FRESH).result()
        assert frozen - 100 < again <= frozen


def test_a_workers_results_and_errors_are_the_tasks_own():
    with Workers(2) as pool:
        assert list(pool.map(pow, [2, 3, 4], [2, 2, 2], chunksize=2)) == [4, 9, 16]
        with pytest.raises(ValueError, match="the task's own error"):
            pool.submit(_fails).result()
