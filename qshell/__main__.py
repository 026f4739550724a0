"""``python -m qshell`` and the ``qshell`` console script: patch first, then run."""
from gevent import events, monkey

# gevent announces every patch to plugins found through package entry points: scanning
# the installed distributions for them (importlib.metadata) costs ~17 ms of a 190 ms
# start-up. qshell installs no gevent plugin, so the events go to zope.event only.
events.notify_and_call_entry_points = events.notify
# must be the very first thing the process does. Not ssl: no Python socket of qshell's speaks
# TLS (libpq does its own, in C).
monkey.patch_all(ssl=False)

import gc  # noqa: E402
import sys  # noqa: E402


def run() -> None:
    from qshell.bootstrap import bootstrap
    from qshell.cli import main

    bootstrap()
    # what start-up made (modules, classes, functions) lives as long as the process: kept
    # out of the collector's full passes (50,000 staged queries: 2 passes, -20 ms)
    gc.freeze()
    status = main(sys.argv[1:])
    # nothing at exit is worth a full collection pass over everything still alive (a
    # 50,000-query run: -60 ms); references are still dropped and files closed as usual
    gc.freeze()
    sys.exit(status)


if __name__ == "__main__":
    run()
