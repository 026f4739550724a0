"""gevent in pytest-xdist's processes (used by ``conftest.py``).

The tests run qshell's engine in-process, so the test process is patched by gevent, as
qshell's entry point patches its own. pytest-xdist talks between its processes with
execnet, whose receiver is a native thread:

- the controller (``-n N``: the process that hands out the tests and runs none) is not
  patched at all: its execnet threads would become greenlets that never run;
- a worker is patched once its execnet objects exist (``pytest_configure``), and the two
  events its main thread waits on after that (the next tests to run; execnet's end) are
  made native: a patched ``threading.Condition`` allocates a gevent lock when it waits,
  which the receiver thread cannot wake (gevent's LoopExit, or a hang).
"""
from __future__ import annotations

import _thread
import os
from typing import Any

import pytest

_lock = _thread.allocate_lock  # native: this module is imported before gevent patches


class NativeEvent:
    """``threading.Event`` on native locks only."""

    def __init__(self, flag: bool = False) -> None:
        self._flag = flag
        self._mutex = _lock()
        self._waiters: list[Any] = []

    def is_set(self) -> bool:
        return self._flag

    def set(self) -> None:
        with self._mutex:
            self._flag = True
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.release()

    def clear(self) -> None:
        with self._mutex:
            self._flag = False

    def wait(self, timeout: float | None = None) -> bool:
        with self._mutex:
            if self._flag:
                return True
            waiter = _lock()
            waiter.acquire()
            self._waiters.append(waiter)
        if waiter.acquire(True, -1 if timeout is None else timeout):
            return True
        with self._mutex:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
        return self._flag


def _make_native(event: Any) -> None:
    """Make an existing ``threading.Event`` native in place (it may already be held in a
    running frame): its methods answered by a ``NativeEvent`` holding its state."""
    native = NativeEvent(event.is_set())
    for name in ("is_set", "set", "clear", "wait"):
        setattr(event, name, getattr(native, name))


def default_workers(config: pytest.Config) -> None:
    """``-n auto --dist loadgroup`` unless the command line says otherwise (``-n0``: one
    process; ``-p no:xdist``: without the plugin, which an ``-n`` in ``addopts`` would
    break). Not in a worker: its options come from the controller, without ``-n``."""
    if hasattr(config, "workerinput") or not config.pluginmanager.has_plugin("xdist"):
        return
    if config.option.numprocesses is None and not config.getoption("usepdb", False):
        # the cores (PYTEST_XDIST_AUTO_NUM_WORKERS overrides); one process on a server named by
        # QSHELL_TEST_DSN: workers sharing one server would meet in its tables and databases
        config.option.numprocesses = 0 if os.environ.get("QSHELL_TEST_DSN") else "auto"
    if config.option.numprocesses and config.option.dist == "no":
        config.option.dist = "loadgroup"  # tests marked xdist_group("...") run on one worker, one after another


def xdist_controller(config: pytest.Config) -> bool:
    """This process hands the tests to pytest-xdist's workers and runs none itself."""
    if hasattr(config, "workerinput") or config.getoption("collectonly"):
        return False
    return config.getoption("dist", "no") != "no" and bool(config.getoption("tx", None))


def native_worker_waits(config: pytest.Config) -> None:
    """In an xdist worker, before gevent patches: the events its main thread will wait on
    made native, and execnet's thread model made to give native locks, events and threads."""
    if not os.environ.get("PYTEST_XDIST_WORKER") or not hasattr(config, "workerinput"):
        return
    from execnet import gateway_base

    model = gateway_base.MainThreadOnlyExecModel
    model.Lock = model.RLock = lambda self: _thread.RLock()  # type: ignore[method-assign]
    model.Event = lambda self: NativeEvent()  # type: ignore[method-assign]
    model.start = lambda self, func, args=(): _thread.start_new_thread(func, args)  # type: ignore[method-assign]
    interactor = next(p for p in config.pluginmanager.get_plugins() if type(p).__name__ == "WorkerInteractor")
    _make_native(interactor.torun._has_items_event)  # the next tests to run
    pool = interactor.channel.gateway._execpool
    if pool._primary_thread_task_ready is not None:
        _make_native(pool._primary_thread_task_ready)  # execnet's main loop, after the session
