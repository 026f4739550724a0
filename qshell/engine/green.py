"""Make psycopg2 cooperative under gevent, with a wait callback that cancels on interrupt.

psycogreen's stock callback (the seed's code) abandons the query when its greenlet is
killed: the client closes the socket but the backend keeps running the statement. This
callback instead sends a cancel request once (PQcancel) when its wait is interrupted and
keeps polling until the server answers, so an interrupted query really stops on the
server and the connection stays usable (see shared stack notes, "Cancelling").
"""
from __future__ import annotations

import weakref
from typing import Callable

import psycopg2
from gevent import get_hub
from psycopg2 import extensions

_POLL_OK, _POLL_READ, _POLL_WRITE = extensions.POLL_OK, extensions.POLL_READ, extensions.POLL_WRITE

_installed = False
_READ, _WRITE = 1, 2
# psycopg2's connection status while libpq connects (CONN_STATUS_SETUP, CONN_STATUS_CONNECTING):
# libpq may then close its socket and open another one on the same fd number (the next
# host of a multi-host conninfo after a refused one, or one target_session_attrs turns
# down); a cached watcher of the closed socket would never fire (epoll dropped it)
_CONNECTING = (extensions.STATUS_SETUP, 20)
# per connection (by id, with a weak reference to tell a reused id): its fd and its read /
# write io watchers, made once and reused for every wait (gevent's wait_read makes and
# closes one per call, and a WeakKeyDictionary lookup makes a weak reference per call:
# both measurable at 50,000 queries/s); an entry goes when its connection does
_watchers: dict[int, tuple] = {}


def _forget(key: int) -> "Callable[[weakref.ref], None]":
    def forget(_ref: weakref.ref) -> None:
        _watchers.pop(key, None)

    return forget


def _io(conn) -> tuple:  # noqa: ANN001
    """(weak reference, fd, read watcher, write watcher) of ``conn``."""
    fd = conn.fileno()
    key = id(conn)
    entry = _watchers.get(key)
    if entry is None or entry[0]() is not conn or entry[1] != fd:
        loop = get_hub().loop
        entry = _watchers[key] = (weakref.ref(conn, _forget(key)), fd, loop.io(fd, _READ), loop.io(fd, _WRITE))
    return entry


def _wait_fresh(fd: int, events: int) -> None:
    """Wait on a watcher made for this wait only (closed after)."""
    watcher = get_hub().loop.io(fd, events)
    try:
        get_hub().wait(watcher)
    finally:
        watcher.close()


def _green_wait(conn, timeout=None):  # noqa: ANN001 - psycopg2 callback signature
    cancelled = False
    interrupt: BaseException | None = None
    entry = None
    while True:
        try:
            state = conn.poll()  # errors from poll() itself propagate untouched
            if state == _POLL_OK:
                break
            if conn.status in _CONNECTING:
                _wait_fresh(conn.fileno(), _READ if state == _POLL_READ else _WRITE)
                continue
            if entry is None or entry[1] != conn.fileno():
                entry = _io(conn)
            if state == _POLL_READ:
                get_hub().wait(entry[2])
            elif state == _POLL_WRITE:
                get_hub().wait(entry[3])
            else:
                raise psycopg2.OperationalError(f"Bad result from poll: {state!r}")
        except BaseException as exc:
            if isinstance(exc, psycopg2.Error):
                raise
            # GreenletExit, gevent.Timeout, KeyboardInterrupt...: cancel once, keep polling
            if cancelled:
                continue
            cancelled = True
            interrupt = exc
            try:
                conn.cancel()
            except Exception:  # connection already gone: nothing left to cancel
                raise exc from None
    if interrupt is not None:
        raise interrupt


def make_green() -> None:
    """Install the cooperative, cancelling wait callback (idempotent).

    Must run after ``gevent.monkey.patch_all()``; affects every psycopg2 connection
    of the process.
    """
    global _installed
    if not _installed:
        extensions.set_wait_callback(_green_wait)
        _installed = True
