"""``python -m qshell`` and the ``qshell`` console script: patch first, then run."""
from gevent import monkey

monkey.patch_all()  # must be the very first thing the process does

import sys  # noqa: E402


def run() -> None:
    from .bootstrap import bootstrap
    from .cli import main

    bootstrap()
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    run()
