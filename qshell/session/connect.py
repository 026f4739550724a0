"""Connection targets the way psql takes them, handed to libpq to resolve.

libpq itself reads PG* variables, service files and ~/.pgpass; qshell only merges
what the command line says into one conninfo string (``make_dsn``) and, through
:func:`redact`, masks any password before showing a target or a message about one.
"""
from __future__ import annotations

import re
from typing import Iterable
from urllib.parse import unquote

from psycopg2.extensions import make_dsn, parse_dsn

from qshell.common.errors import UsageError


def is_conninfo(text: str) -> bool:
    return "=" in text or text.startswith(("postgresql://", "postgres://"))


def build_dsn(dbname: str | None = None, host: str | None = None, port: str | int | None = None,
              user: str | None = None, base: str | None = None) -> str:
    """One libpq conninfo from psql-style parts; ``dbname`` may itself be a conninfo or URI."""
    overrides = {k: str(v) for k, v in (("host", host), ("port", port), ("user", user)) if v not in (None, "")}
    dsn = base or ""
    if dbname:
        if is_conninfo(dbname):
            dsn = dbname
        else:
            overrides["dbname"] = dbname
    try:
        return make_dsn(dsn or None, **overrides) if (dsn or overrides) else ""
    except Exception as exc:  # noqa: BLE001 - libpq's parse error
        raise UsageError(redact(f"invalid connection string: {str(exc).strip()}", dsn, dbname or "")) from None


def reconnect_dsn(current: str, args: tuple[str, ...]) -> str:
    """psql's ``\\c``: a lone conninfo/URI stands alone; else DBNAME USER HOST PORT, '-' keeps a part."""
    if len(args) == 1 and is_conninfo(args[0]):
        return build_dsn(dbname=args[0])
    if any("=" in a for a in args):  # an unquoted conninfo: its words belong together
        return build_dsn(dbname=" ".join(args))
    if len(args) > 4:
        raise UsageError("\\c: too many arguments (\\c [DBNAME [USER [HOST [PORT]]]])")
    parts = dict(zip(("dbname", "user", "host", "port"), args, strict=False))  # trailing parts may be left out
    parts = {k: v for k, v in parts.items() if v != "-"}
    return build_dsn(base=current or None, **parts)


def _mask_written(text: str) -> str:
    """``text`` with each password written in a conninfo (``password=…``) or URI
    (``user:…@``) replaced by ``***``, found by its shape."""
    # an unquoted value runs to the next blank; a quote it ends with is most likely the one
    # around the whole conninfo (\\c 'host=h password=pw'): kept, so the line stays whole
    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)",
                  lambda m: m.group(1) + "***" + ("'" if m.group(2)[-1] == "'" and m.group(2)[0] != "'" else ""),
                  text, flags=re.I)
    text = re.sub(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    return text


def describe(params: dict[str, str]) -> str:
    """psql's \\conninfo sentence, from libpq's own view of the connection (no password)."""
    db, user = params.get("dbname", "?"), params.get("user", "?")
    host, port = params.get("host", ""), params.get("port", "")
    if host.startswith("/"):
        where = f'via socket in "{host}" at port "{port}"'
    else:
        where = f'on host "{host}" at port "{port}"'
    return f'You are connected to database "{db}" as user "{user}" {where}.'


# a password written in a conninfo or URI, found by its text (for strings libpq cannot parse)
_URI_PASSWORD = re.compile(r"postgres(?:ql)?://[^:/@\s]*:([^@/\s]*)@")
_KEY_PASSWORD = re.compile(r"(?:^|[\s?&])password\s*=\s*('(?:[^'\\]|\\.)*'?|[^\s&]*)", re.I)


def passwords_in(text: str) -> set[str]:
    """Every password written in ``text`` (a conninfo, URI or command argument): libpq's
    reading of it, and, found textually, the raw and percent-decoded forms (libpq quotes a
    badly encoded password back in its error message)."""
    found: set[str] = set()
    try:
        found.add(parse_dsn(text).get("password") or "")
    except Exception:  # noqa: BLE001 - unparsable: the text is all there is
        pass
    raw = [m.group(1) for m in _URI_PASSWORD.finditer(text)]
    for m in _KEY_PASSWORD.finditer(text):
        value = m.group(1)
        if value.startswith("'"):
            value = re.sub(r"\\(.)", r"\1", value[1:-1] if value.endswith("'") and len(value) > 1 else value[1:])
        raw.append(value)
    for value in raw:
        found.update((value, unquote(value)))
    return {p for p in found if p}


def password_in(dsn: str) -> str | None:
    """The password of ``dsn``: libpq's reading, else the one its text shows (see passwords_in)."""
    try:
        return parse_dsn(dsn).get("password") or None
    except Exception:  # noqa: BLE001
        pass
    found = sorted(passwords_in(dsn), key=len, reverse=True)
    return found[0] if found else None


def redact(text: str, *given: str, secrets: Iterable[str] = ()) -> str:
    """``text`` fit to show, every password in it replaced by ``***``: the one function
    every message, label or stored line that may hold a connection string goes through.

    Masked: a password written in ``text`` itself, where it is written (a conninfo's
    ``password=…``, quoted or not, a URI's ``user:…@`` or ``?password=…``); and, wherever
    they appear, the passwords of the connection strings ``given`` (what the user typed: a
    target, ``\\c``'s words, the command line), which libpq may quote back alone — its
    error about a bad %-escape quotes just the token (``invalid percent-encoded token:
    "Wr%ZZong"``) — and ``secrets``, passwords known otherwise (``-W``'s), each in its raw
    and percent-decoded forms, longest first. (A ``password = 'x'`` in SQL quoted by an
    error is masked where it stands, not every ``x`` of the message.)"""
    found = set(secrets)
    for source in given:
        if source:
            found |= passwords_in(source)
    text = _mask_written(text)
    forms = {form for secret in found if secret for form in (secret, unquote(secret)) if form}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text
