"""``python -m qshell.history dump``: the run history's export, kept at its documented name.

The history itself lives in :mod:`qshell.store.history`.
"""

from qshell.store.history import main

if __name__ == "__main__":
    raise SystemExit(main())
