"""Ctrl-C as psql takes it: a cancel request for what is running, never a lost connection.

Python raises KeyboardInterrupt in whichever greenlet happens to run when SIGINT
arrives — often a worker busy with a batch of rows, not the one waiting for the run —
so the run went on. While a statement or a run is in flight, SIGINT instead calls a
callback from gevent's hub (a libev signal watcher), which asks for the cancel.
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

import gevent


@contextmanager
def sigint_calls(callback: Callable[[], None]) -> Iterator[None]:
    """While inside, SIGINT calls ``callback`` (in the hub: it must not block) instead of
    raising KeyboardInterrupt; Python's own handler is put back afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)

    def fire() -> None:
        gevent.spawn(callback)  # out of the hub: a cancel request is a (short) blocking call

    handle = gevent.signal_handler(signal.SIGINT, fire)
    try:
        yield
    finally:
        handle.cancel()  # libev puts SIG_DFL back: reinstate Python's handler
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)
