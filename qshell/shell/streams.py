"""Small facts about the streams qshell is given (they may be files, pipes, StringIO)."""
from __future__ import annotations

import io
import sys
from typing import BinaryIO


def isatty(stream) -> bool:  # noqa: ANN001 - any stream-like object
    """True only for a real terminal; False for pipes, files, StringIO and closed streams."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def binary(stream) -> BinaryIO:  # noqa: ANN001
    """The byte stream under ``stream`` (stdin by default): input is decoded line by line,
    so that a bad byte costs one line, not the whole script."""
    if stream is None:
        return sys.stdin.buffer
    if isinstance(stream, io.TextIOBase) and not hasattr(stream, "buffer"):
        return io.BytesIO(stream.read().encode("utf-8"))
    return getattr(stream, "buffer", stream)
