"""A run's pool workers keep what they hold out of the collector's sight, and nothing more."""

import gc
import weakref

import pytest

from readout.workers import Workers

#: In a worker: a weak reference to the reference cycle the last task left as garbage.
_LEFT = None
#: In a worker: what the last task kept (a cache of the worker's, say).
_KEPT = []


class _Node:
    pass


def _keep_one_and_leave_a_cycle() -> int:
    """Keep an object, leave a cycle of garbage behind; the freeze count before settling."""
    global _LEFT
    _KEPT.append(_Node())
    node = _Node()
    node.me = node
    _LEFT = weakref.ref(node)
    del node
    return gc.get_freeze_count()


def _state() -> tuple[int, bool, bool]:
    """The freeze count; whether the cycle left before was collected; whether what was kept
    is out of the collector's sight (in no generation it walks)."""
    walked = {id(o) for o in gc.get_objects()}
    return gc.get_freeze_count(), _LEFT is None or _LEFT() is None, id(_KEPT[-1]) not in walked


def _fails() -> None:
    raise ValueError("the task's own error")


def test_a_worker_freezes_what_it_inherits_and_what_a_task_kept_but_no_garbage():
    with Workers(1) as pool:
        inherited = pool.submit(gc.get_freeze_count).result()
        assert inherited > 1000  # the modules this process had at the fork
        before = pool.submit(_keep_one_and_leave_a_cycle).result()
        frozen, collected, kept_frozen = pool.submit(_state).result()
        assert collected  # the cycle was collected before the freeze, not frozen
        assert kept_frozen and frozen > before  # what the task kept is frozen
        assert pool.submit(_state).result()[0] >= frozen


def test_a_workers_results_and_errors_are_the_tasks_own():
    with Workers(2) as pool:
        assert list(pool.map(pow, [2, 3, 4], [2, 2, 2], chunksize=2)) == [4, 9, 16]
        with pytest.raises(ValueError, match="the task's own error"):
            pool.submit(_fails).result()
