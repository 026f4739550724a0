"""Text from the database made safe to print: control characters shown escaped, as psql does.

A value, a column name or a piece of SQL may hold ESC, BEL or other control
characters; written raw they would drive the terminal (``E'\\x1b[2J'`` clears the
screen, ``E'\\x1b]0;title\\x07'`` sets the window title). Tables, headers and SQL
previews pass through :func:`visible`; CSV and JSON carry the exact text, JSON with
every control character written as a ``\\u`` escape (:func:`json_text`).
"""
from __future__ import annotations

import json
import re
from typing import Callable

__all__ = ["visible", "width", "expand_tabs", "cell_lines", "json_text", "json_str"]

# C0 controls but newline and tab, DEL, and the C1 controls U+0080-U+009F: exactly the
# characters PostgreSQL's ucs_wcwidth() calls non-printable (width -1), U+0000 aside
# (a text value cannot hold it).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c == "\r":
        return "\\r"
    code = ord(c)
    return f"\\x{code:02X}" if code < 0x80 else f"\\u{code:04X}"


def visible(text: str) -> str:
    """``text`` with every control character escaped the way psql's aligned output
    shows it (``pg_wcsformat`` in src/fe_utils/mbprint.c, UTF-8 client encoding):

    * carriage return -> ``\\r``
    * any other ASCII control character (U+0001-U+001F) and DEL -> ``\\xHH``, upper-case
      hex: ESC is ``\\x1B``, BEL ``\\x07``, DEL ``\\x7F``
    * a C1 control character (U+0080-U+009F) -> ``\\uHHHH``: NEL is ``\\u0085``

    Newline and tab are left as they are (they are the table layout's business: a
    newline makes a multi-line cell, a tab is expanded by the caller). Everything else,
    backslashes and all other Unicode included, is unchanged, so the result holds no
    control character but newline and tab, and ``visible(visible(s)) == visible(s)``.
    """
    return _CONTROL.sub(_escape, text)


_widths: tuple[Callable[[str], int], Callable[[str], int]] | None = None


def _wc() -> tuple[Callable[[str], int], Callable[[str], int]]:
    """(wcswidth, wcwidth): the widths tabulate measures with when it is installed (wide
    CJK characters count 2); imported at the first text that is not ASCII (-11 ms of
    start-up). Without wcwidth, characters are counted, as tabulate then does."""
    global _widths
    if _widths is None:
        try:
            from wcwidth import wcswidth, wcwidth

            _widths = (wcswidth, wcwidth)
        except ImportError:  # pragma: no cover
            _widths = (len, _one)
    return _widths


def _one(c: str) -> int:
    return 1


def width(text: str) -> int:
    """Display width of one line of :func:`visible` text: a wide (CJK) character counts
    2, a combining one 0 — as tabulate pads it and as psql's ``pg_wcssize`` counts."""
    if text.isascii():
        return len(text)
    w = _wc()[0](text)
    return w if w >= 0 else len(text)


def expand_tabs(line: str) -> str:
    """One line with each tab turned into spaces up to the next multiple of 8 columns
    of the line, counting display width, as psql's ``pg_wcsformat`` does."""
    if "\t" not in line:
        return line
    out = []
    col = 0
    for c in line:
        if c == "\t":
            n = 8 - col % 8
            out.append(" " * n)
            col += n
        else:
            out.append(c)
            col += len(c) if c.isascii() else max(_wc()[1](c), 0)
    return "".join(out)


def cell_lines(text: str) -> list[str]:
    """A value as psql lays it out in a table cell: control characters escaped, one
    entry per line (a leading or trailing newline makes an empty line), tabs expanded."""
    return [expand_tabs(line) for line in visible(text).split("\n")]


# DEL and the C1 controls: JSON's encoder (non-ASCII kept) writes them raw, and a terminal
# takes U+009B as CSI, as it takes ESC [
_JSON_RAW = re.compile("[\x7f-\x9f]")
_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_json_encode_str = json.encoder.encode_basestring  # a str as a JSON literal, non-ASCII kept


def _json_escape(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def json_text(obj: object) -> str:
    """``obj`` as compact JSON (non-ASCII text kept) with no control character left raw:
    the encoder escapes U+0000-U+001F, and DEL and the C1 controls U+0080-U+009F are
    written ``\\u007f``-``\\u009f`` here (``\\u009b``, not a raw CSI). The text decodes to
    exactly ``obj``. Every JSON qshell writes is made by this or :func:`json_str`."""
    text = _json_encode(obj)
    return text if text.isascii() else _JSON_RAW.sub(_json_escape, text)


def json_str(text: str) -> str:
    """One string as a JSON string literal, escaped as :func:`json_text` escapes it."""
    out = _json_encode_str(text)
    return out if out.isascii() else _JSON_RAW.sub(_json_escape, out)
