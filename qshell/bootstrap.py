"""Process set-up that must come before anything else imports sockets or threads."""
from __future__ import annotations

_done = False


def bootstrap() -> None:
    """Monkey-patch with gevent, then make psycopg2 cooperative (idempotent).

    Order matters: without ``patch_all()`` first, SQLAlchemy's first connect holds a
    real lock and an exhausted pool blocks the hub (stack notes).
    """
    global _done
    if _done:
        return
    from gevent import monkey

    monkey.patch_all()
    from .green import make_green

    make_green()
    _done = True
