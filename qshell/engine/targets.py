"""Several servers behind one target: the hosts of a libpq multi-host conninfo
(``host=a,b,c``), a conninfo for each one, which of them ``target_session_attrs``
accepts, and the targets of ``\\sweep … on TARGET…`` (conninfo words over the session's).

libpq itself picks the host of every connection (``load_balance_hosts``,
``target_session_attrs``); qshell only needs to reach each host on its own for what it
asks on the side (capacity, wait-event sampling) and to name them in records.
"""
from __future__ import annotations

import os

import psycopg2
from psycopg2 import extensions

# what only a multi-host connection means: dropped from a one-host conninfo
_CHOOSING = ("target_session_attrs", "load_balance_hosts", "hostaddr")


def _params(dsn: str) -> dict[str, str]:
    try:
        return extensions.parse_dsn(dsn) if dsn else {}
    except psycopg2.ProgrammingError:
        return {}


def split(text: str | None) -> list[str]:
    return [part.strip() for part in text.split(",")] if text else []


def hosts(dsn: str) -> list[str]:
    """A one-host conninfo per host of ``dsn`` (its ``host`` list, else ``PGHOST``), each
    with its own port (libpq's rule: one port for all, or one per host); [] when ``dsn``
    names one host or none."""
    params = _params(dsn)
    names = split(params.get("host") or os.environ.get("PGHOST"))
    if len(names) < 2:
        return []
    ports = split(params.get("port") or os.environ.get("PGPORT"))
    if len(ports) == 1:
        ports = ports * len(names)
    out = []
    for i, name in enumerate(names):
        one = {k: v for k, v in params.items() if k not in _CHOOSING}
        one["host"] = name
        if i < len(ports) and ports[i]:
            one["port"] = ports[i]
        else:
            one.pop("port", None)
        out.append(extensions.make_dsn(**one))
    return out


def host_dsn(dsn: str, label: str) -> str:
    """The conninfo of ``dsn`` for the one server ``label`` ("host:port", as
    ``results.Server`` names it)."""
    name, _, port = label.rpartition(":")
    one = {k: v for k, v in _params(dsn).items() if k not in _CHOOSING}
    one.update(host=name, port=port)
    return extensions.make_dsn(**one)


def label(dsn: str) -> str:
    """"host:port" of a one-host conninfo, as ``results.Server`` names a server (libpq's
    defaults where it names none); the inverse of ``host_dsn``."""
    params = _params(dsn)
    return f"{params.get('host', 'localhost')}:{params.get('port', '5432')}"


def session_attrs(dsn: str) -> str:
    """``target_session_attrs`` of ``dsn`` (or ``PGTARGETSESSIONATTRS``; libpq's default ``any``)."""
    return _params(dsn).get("target_session_attrs") or os.environ.get("PGTARGETSESSIONATTRS") or "any"


def load_balanced(dsn: str) -> bool:
    """libpq picks a host at random for each connection (``load_balance_hosts=random``, or
    ``PGLOADBALANCEHOSTS``); otherwise it takes them in order."""
    return (_params(dsn).get("load_balance_hosts") or os.environ.get("PGLOADBALANCEHOSTS") or "disable") == "random"


def accepted(attrs: str, standbys: list[bool]) -> list[bool]:
    """Which servers (given whether each is a standby) ``target_session_attrs`` lets libpq
    choose. ``read-only`` is taken as a standby (a primary with
    ``default_transaction_read_only`` also qualifies: not looked at)."""
    if attrs in ("read-write", "primary"):
        return [not s for s in standbys]
    if attrs in ("read-only", "standby"):
        return list(standbys)
    if attrs == "prefer-standby":
        return list(standbys) if any(standbys) else [True] * len(standbys)
    return [True] * len(standbys)


def capacity_verdict(n: int, dsn: str, seen: list[tuple[str, bool, int]]) -> tuple[str | None, str | None]:
    """(why ``n`` workers are refused, a warning), given each reachable server of the
    multi-host ``dsn`` as (host, standby, connections it can still take), in host order.

    libpq tries the next host when one cannot be reached or is not accepted, never when a
    server has too many clients (53300): without ``load_balance_hosts=random`` every
    worker goes to the first server ``target_session_attrs`` accepts, which must take all
    N; with it, N must fit in their sum, and the servers that could not take N alone are
    named in a warning (a worker refused there is not retried elsewhere)."""
    attrs = session_attrs(dsn)
    usable = [row for row, ok in zip(seen, accepted(attrs, [standby for _, standby, _ in seen]), strict=True) if ok]

    def named(rows: list[tuple[str, bool, int]]) -> str:
        return ", ".join(f"{host} ({'standby' if standby else 'primary'}) {max(free, 0)}" for host, standby, free in rows)

    if not usable:
        return f"cannot run {n} workers: no server target_session_attrs={attrs} accepts is reachable", None
    if not load_balanced(dsn):
        host, standby, free = usable[0]
        if n > free:
            return (f"cannot run {n} workers: without load_balance_hosts=random libpq connects every worker to the"
                    f" first server target_session_attrs={attrs} accepts, {host} ({'standby' if standby else 'primary'}),"
                    f" which can take {max(free, 0)} more (it does not try the next host when a server has too many"
                    " clients)"), None
        return None, None
    total = sum(max(free, 0) for _, _, free in usable)
    if n > total:
        return (f"cannot run {n} workers: the servers target_session_attrs={attrs} accepts can take {total} more"
                f" connections ({named(usable)})"), None
    short = [row for row in usable if row[2] < n]
    if short:
        each = [f"{host} ({'standby' if standby else 'primary'})" for host, standby, _ in short]
        frees = [max(free, 0) for _, _, free in short]
        which = f"{each[0]} can take only {frees[0]} more connections" + "".join(
            f"{' and' if k == len(short) - 1 else ','} {each[k]} only {frees[k]}" for k in range(1, len(short)))
        them = "that server" if len(short) == 1 else "those servers"
        return None, (f"warning: {n} workers are spread at random over {len(usable)} servers, but {which}: a worker"
                      f" refused by {them} (too many clients) is not retried on another host")
    return None, None


def merge(base: str, target: str) -> str:
    """``target`` (conninfo words such as ``host=a,b load_balance_hosts=random``, or a
    whole URI) over the session's conninfo ``base``: what it does not name is kept.

    Raises ValueError when ``target`` is not a conninfo."""
    try:
        words = extensions.parse_dsn(target)
    except psycopg2.ProgrammingError as exc:
        raise ValueError(f"not a conninfo: {' '.join(str(exc).split())}") from None
    if not words:
        raise ValueError("an empty target")
    params = _params(base)
    if "host" in words:  # other servers: the base's address of its own server does not apply
        params.pop("hostaddr", None)
    params.update(words)
    return extensions.make_dsn(**params)
