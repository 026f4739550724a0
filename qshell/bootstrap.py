"""Process set-up that must come before anything else imports sockets or threads."""
from __future__ import annotations

_done = False


def bootstrap(patch_processes: bool = True) -> None:
    """Monkey-patch with gevent, then make psycopg2 cooperative (idempotent).

    Order matters: without ``patch_all()`` first, SQLAlchemy's first connect holds a
    real lock and an exhausted pool blocks the hub (stack notes).
    ``patch_processes=False`` leaves os, signal and subprocess alone, for a host
    process that forks ptys (the test suite): under gevent's patches pexpect's fork
    waits forever on a pipe, and gevent's child watcher reaps pexpect's children.
    ``ssl`` is never patched: libpq does TLS itself, no Python socket of qshell's does.
    """
    global _done
    if _done:
        return
    from gevent import monkey

    monkey.patch_all(os=patch_processes, signal=patch_processes, subprocess=patch_processes, ssl=False)
    import gevent

    # Ctrl-C is handled by the shell; the hub must not print it as a crash
    hub = gevent.get_hub()
    hub.NOT_ERROR = tuple(hub.NOT_ERROR) + (KeyboardInterrupt,)
    from qshell.engine.green import make_green

    make_green()
    _done = True
