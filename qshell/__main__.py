"""``python -m qshell`` and the ``qshell`` console script: patch first, then run."""
from gevent import events, monkey

# gevent announces every patch to plugins found through package entry points: scanning
# the installed distributions for them (importlib.metadata) costs ~17 ms of a 190 ms
# start-up. qshell installs no gevent plugin, so the events go to zope.event only.
events.notify_and_call_entry_points = events.notify
monkey.patch_all()  # must be the very first thing the process does

import sys  # noqa: E402


def run() -> None:
    from .bootstrap import bootstrap
    from .cli import main

    bootstrap()
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
