"""``main(argv) -> int``: arguments, streams, the reader, the session; wires the parts.

Call ``qshell.bootstrap.bootstrap()`` (gevent patching) before ``main`` when not
started through ``python -m qshell`` / the ``qshell`` script.
"""
from __future__ import annotations

import argparse
import getpass
import os
import signal
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, NoReturn, TextIO

from qshell import __version__
from qshell.common.errors import ConnectionFailed, ExitStatus, OutputClosed, QshellError, UsageError
from qshell.common.paths import data_dir
from qshell.common.paths import history_dir as resolve_history_dir
from qshell.output.styles import FORMATS
from qshell.script.reader import Entry, InputError, ScriptContext, read_command, read_file, read_stream
from qshell.shell import psqlopts
from qshell.shell.settings import HELP, Settings, assign
from qshell.shell.streams import binary, isatty

if TYPE_CHECKING:  # pragma: no cover
    from qshell.output.psql_formats import PrintOptions

PROG = "qshell"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit 2; psql uses 1 for bad usage
        raise UsageError(f"{message} (try --help)")


def _scale(text: str) -> int:
    """--scale: pgbench's scale factor, a whole number (ASCII digits) from 1 to INT_MAX."""
    from qshell.common.numbers import INT_MAX, whole

    try:
        return whole(text, 1, INT_MAX)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{exc}, got {text!r}") from None


class _Ordered(argparse.Action):
    """-c and -f keep their order on the command line, as in psql."""

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        items = list(getattr(namespace, "scripts", None) or [])
        items.append(("c" if option_string in ("-c", "--command") else "f", values))
        namespace.scripts = items


class _Print(argparse.Action):
    """psql's output options (-A -t -x --csv -F -R -z -0 -T -P NAME[=VALUE]): each a ``\\pset``,
    applied in the order given (``-t -P t`` is tuples only off again, as in psql)."""

    PSET = {"-A": ("format", "unaligned"), "--no-align": ("format", "unaligned"), "-t": ("tuples_only", "on"),
            "--tuples-only": ("tuples_only", "on"), "-x": ("expanded", "on"), "--expanded": ("expanded", "on"),
            "--csv": ("format", "csv"), "-H": ("format", "html"), "--html": ("format", "html"),
            "-F": ("fieldsep", None), "--field-separator": ("fieldsep", None),
            "-R": ("recordsep", None), "--record-separator": ("recordsep", None),
            "-z": ("fieldsep_zero", ""), "--field-separator-zero": ("fieldsep_zero", ""),
            "-0": ("recordsep_zero", ""), "--record-separator-zero": ("recordsep_zero", ""),
            "-T": ("tableattr", None), "--table-attr": ("tableattr", None)}

    def __call__(self, parser, namespace, values, option_string=None):  # noqa: ANN001
        items = list(getattr(namespace, "psets", None) or [])
        if option_string in ("-P", "--pset"):
            name, sep, value = str(values).partition("=")
            items.append((name, value if sep else None))
        else:
            name, fixed = self.PSET[option_string or ""]
            items.append((name, values if fixed is None else fixed))
        namespace.psets = items


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, add_help=False,
                description="Stage PostgreSQL queries, run them at once on N green workers, see each result and its timing.")
    p.add_argument("dbname", nargs="?", help="database name, conninfo string or postgresql:// URI")
    p.add_argument("username", nargs="?", help="user name (as psql's second argument)")
    p.add_argument("-d", "--dbname", dest="dbname_opt", metavar="DBNAME", help="database name, conninfo or URI")
    p.add_argument("-h", "--host", help="server host or socket directory")
    p.add_argument("-p", "--port", help="server port")
    p.add_argument("-U", "--username", dest="username_opt", metavar="USER", help="user name")
    p.add_argument("-W", "--password", action="store_const", const=True, default=None,
                   help="prompt for a password before connecting")
    p.add_argument("-w", "--no-password", dest="password", action="store_const", const=False,
                   help="never prompt for a password (without either, qshell asks when the server wants one, as psql; "
                        "the last of -W and -w wins)")
    p.add_argument("-l", "--list", action="store_true", help="list the databases (\\l) and exit, as psql -l")
    p.add_argument("-c", "--command", action=_Ordered, dest="scripts", metavar="COMMAND",
                   help="run one command (SQL or meta-command) and exit; repeatable")
    p.add_argument("-f", "--file", action=_Ordered, dest="scripts", metavar="FILE",
                   help="read commands from FILE ('-' for stdin) and exit; repeatable")
    p.add_argument("-v", "--set", "--variable", action="append", default=[], metavar="NAME=VALUE",
                   help="set a psql variable (:NAME in scripts) or a setting, e.g. -v ON_ERROR_STOP=1, -v workers=4; -v NAME unsets")
    p.add_argument("-a", "--echo-all", action="store_true", help="print every input line as it is read (ECHO=all)")
    p.add_argument("-e", "--echo-queries", action="store_true", help="print each statement as it is sent (ECHO=queries)")
    p.add_argument("-E", "--echo-hidden", action="store_true",
                   help="print the catalog queries of the \\d commands before running them (ECHO_HIDDEN=on)")
    p.add_argument("-b", "--echo-errors", action="store_true", help="print each failed statement (ECHO=errors)")
    p.add_argument("-q", "--quiet", action="store_true", help="no informational messages, no command tags (QUIET=on)")
    p.add_argument("-s", "--single-step", action="store_true",
                   help="ask before each statement is sent: Enter sends it, x skips it (SINGLESTEP=on; the answer is read from stdin, as psql)")
    p.add_argument("-S", "--single-line", action="store_true",
                   help="the end of a line ends a statement, as a ';' (SINGLELINE=on)")
    p.add_argument("-n", "--no-readline", action="store_true",
                   help="at a terminal, read lines without line editing, completion or history (psql's -n)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="send the query results to FILE (or |COMMAND), as \\o FILE before the first command")
    p.add_argument("-L", "--log-file", metavar="FILE",
                   help="append each statement sent and its result to FILE, as psql's session log (its QUERY frames, results as aligned tables)")
    p.add_argument("-1", "--single-transaction", action="store_true",
                   help="with -c/-f: BEGIN before the first, COMMIT after the last (ROLLBACK after a failure under ON_ERROR_STOP)")
    p.add_argument("--on-error-stop", action="store_true", help="stop at the first error (exit 3; a -c command 1, as psql)")
    p.add_argument("--timeout", metavar="DURATION", help="statement_timeout of each staged query (5s, 500ms)")
    p.add_argument("--read-only", action="store_true", help="every session default_transaction_read_only")
    p.add_argument("--spec", metavar="FILE.spec",
                   help="run an isolationtester spec file on the server and exit, printing exactly what isolationtester prints (its exit status)")
    p.add_argument("--levels", metavar="LEVELS",
                   help="with --spec: run every permutation at each isolation level ('read committed,repeatable read,serializable')"
                        " and print the anomaly table (--format json: one record per permutation per level)")
    p.add_argument("--format", choices=FORMATS, metavar="FMT", help="table format, csv or json (JSON lines)")
    for flags, text in ((("-A", "--no-align"), "unaligned output (psql's -A)"),
                        (("-t", "--tuples-only"), "rows only: no header, no footer"),
                        (("-x", "--expanded"), "expanded display, one column per line"),
                        (("--csv",), "CSV output (psql's --csv)"),
                        (("-H", "--html"), "HTML output (psql's)"),
                        (("-z", "--field-separator-zero"), "unaligned: a zero byte between fields"),
                        (("-0", "--record-separator-zero"), "unaligned: a zero byte after each record")):
        p.add_argument(*flags, action=_Print, nargs=0, dest="psets", help=text)
    for flags, meta, text in ((("-F", "--field-separator"), "SEP", "unaligned: the field separator (default '|')"),
                              (("-R", "--record-separator"), "SEP", "unaligned: the record separator (default newline)"),
                              (("-T", "--table-attr"), "TEXT", "HTML table tag attributes (psql's tableattr)"),
                              (("-P", "--pset"), "NAME[=VALUE]", "a print option, as \\pset NAME VALUE")):
        p.add_argument(*flags, action=_Print, dest="psets", metavar=meta, help=text)
    p.add_argument("--sandbox", action="store_true", help="use the embedded sandbox server even if a connection is named")
    p.add_argument("--sandbox-dir", metavar="DIR", help="data directory of the sandbox (default: XDG data dir/qshell/sandbox)")
    p.add_argument("--scale", type=_scale, metavar="S", help="with the sandbox: load the pgbench tables at scale S first")
    p.add_argument("--history-dir", metavar="DIR", help="where the run history (runs.sqlite) and the command history go")
    p.add_argument("-X", "--no-qshellrc", "--no-psqlrc", dest="no_qshellrc", action="store_true",
                   help="read no startup file: neither ~/.qshellrc nor psql's ~/.psqlrc")
    p.add_argument("--qshellrc-only", action="store_true",
                   help="read ~/.qshellrc but not psql's startup file ($PSQLRC, ~/.psqlrc-18.6, ~/.psqlrc-18, ~/.psqlrc)")
    p.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    p.add_argument("-?", "--help", action="store_const", const="options", default=None,
                   help="show this help and exit; --help=commands: the meta-commands (as \\?)")
    p.add_argument("extra", nargs="*", help=argparse.SUPPRESS)  # psql warns of each and goes on
    return p


def _action(kind: str, value: str, stdin: BinaryIO, context: ScriptContext) -> Iterator[Entry | InputError]:
    """One -c or -f of the command line: its entries (a file read when its turn comes)."""
    if kind == "c":
        yield from read_command(value, context)
    elif value == "-":
        yield from read_stream(stdin, "<stdin>", context, script_file=True)  # (psql: a file, for \\prompt)
    else:
        try:
            entries = read_file(value, context)
        except OSError as exc:
            yield InputError(f"{value}: {exc.strerror or exc}", value, 0, unreadable=True)
            return
        yield from entries


def _scripts(items: list[tuple[str, str]], stdin: BinaryIO, context: ScriptContext) -> list[Iterator[Entry | InputError]]:
    """The -c and -f actions in command-line order, each its own input (a \\q ends only it, as psql)."""
    return [_action(kind, value, stdin, context) for kind, value in items]


def startup_file() -> Path:
    """``$QSHELLRC``, else ``~/.qshellrc``: commands run at start, as psql's .psqlrc."""
    return Path(os.environ.get("QSHELLRC") or "~/.qshellrc").expanduser()


def _startup_entries(context: ScriptContext) -> Iterator[Entry | InputError]:
    path = startup_file()
    if not path.is_file():
        return
    try:
        entries = read_file(str(path), context)
    except OSError as exc:
        yield InputError(f"{path}: {exc.strerror or exc}", str(path), 0)
        return
    yield from entries


def _startup(args: argparse.Namespace, context: ScriptContext) -> list[Iterator[Entry | InputError]]:
    """The startup files, each an input of its own: qshell's, then psql's (``~/.psqlrc``, as
    psql finds it), so that a psql user's settings and print options apply in qshell too;
    none with -X, psql's not with --qshellrc-only."""
    if args.no_qshellrc:
        return []
    if args.qshellrc_only:
        return [_startup_entries(context)]
    return [_startup_entries(context), psqlopts.psqlrc_entries(context)]


def _read_password(user: str) -> str:
    """-W: psql's "Password for user NAME: " on the terminal, the answer read from it; never
    from stdin, which may be the script. No terminal (a pipeline, cron): fail, status 2."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))  # getpass falls back to stdin without it
    except OSError as exc:
        raise ConnectionFailed(f"-W: no terminal to read the password from (/dev/tty: {exc.strerror or exc})") from None
    try:
        return getpass.getpass(f"Password for user {user}: ")
    except EOFError:
        raise ConnectionFailed("-W: no password given") from None


def _open_session(dsn: str, password: str | None, box, ask: bool):  # noqa: ANN001, ANN202
    """``Session.open``; when the server asks for a password none was given for, psql's
    "Password for user NAME: " on the terminal and once more (not with -w)."""
    from qshell.session.session import Session, login_user, needs_password

    try:
        return Session.open(dsn, password, box)
    except ConnectionFailed as exc:
        if password is not None or not ask or not needs_password(exc):
            raise
        from qshell.shell.session_commands import ask_login_password

        _leaving.reading = True  # a blocking read of the terminal
        try:
            typed = ask_login_password(login_user(dsn))
        finally:
            _leaving.reading = False
        if typed is None:
            raise
        return Session.open(dsn, typed, box)


def _settings(args: argparse.Namespace, context: ScriptContext) -> Settings:
    """The settings and psql variables of the command line, in its order (``-v``)."""
    from qshell.script.variables import MetaArgError, special_value, valid_name

    s = Settings()
    variables = context.variables
    for flag, name, value in (("echo_all", "ECHO", "all"), ("echo_queries", "ECHO", "queries"),
                              ("echo_errors", "ECHO", "errors"), ("quiet", "QUIET", "on"),
                              ("echo_hidden", "ECHO_HIDDEN", "on"), ("single_step", "SINGLESTEP", "on"),
                              ("single_line", "SINGLELINE", "on")):
        if getattr(args, flag):
            variables.set(name, value)
    for item in args.set:
        name, sep, value = item.partition("=")
        if name.lower() in HELP:
            if not sep:
                raise UsageError(f"-v {item}: expected NAME=VALUE")
            if name == "ON_ERROR_STOP":  # psql's own words for a value it refuses
                try:
                    value = special_value(name, value)  # ("" is on, as psql's)
                except MetaArgError as exc:
                    raise UsageError(str(exc)) from None
            s = assign(s, name, value)
            if name == "ON_ERROR_STOP":  # psql's special variable as well, its value as typed
                variables.set(name, value)
        elif not valid_name(name):
            raise UsageError(f'invalid variable name: "{name}"')  # (psql's words)
        elif sep:
            try:
                variables.set(name, special_value(name, value))
            except MetaArgError as exc:  # psql: -v ECHO=bogus ends it at once
                raise UsageError(str(exc)) from None
        else:
            variables.unset(name)  # psql: -v NAME without a value unsets it
    if args.on_error_stop:
        s = assign(s, "on_error_stop", "on")
    if args.format:
        s = assign(s, "format", args.format)
    return s


def _print_options(args: argparse.Namespace, settings: Settings) -> tuple[Settings, "PrintOptions"]:
    """The settings and psql's print options after the command line's -A -t -x -P… (in its order)."""
    from qshell.output.psql_formats import DEFAULT
    from qshell.shell.pset import apply

    opts = DEFAULT
    for name, value in getattr(args, "psets", None) or []:
        try:
            opts, settings, _ = apply(opts, settings, name, value)
        except UsageError as exc:  # psql: two lines, exit 1
            raise UsageError(f'{str(exc).splitlines()[0]}\n{PROG}: could not set printing parameter "{name}"') from None
    return settings, opts


def _other_settings(args: argparse.Namespace, s: Settings) -> Settings:
    """--timeout and --read-only, after the print options."""
    if args.timeout:
        s = assign(s, "timeout", args.timeout, "--timeout")
    if args.read_only:
        s = assign(s, "readonly", "on")
    return s


class _Hangup(SystemExit):
    """SIGHUP or SIGTERM: leave as at exit (close the session, stop the sandbox if we are
    its last user). A SystemExit, so that no command's error handling takes it for a
    failure."""


LEAVE_SIGNALS = tuple(getattr(signal, name) for name in ("SIGHUP", "SIGTERM") if hasattr(signal, name))


class _Leaving:
    """What the leave signals' handler needs to know about the main greenlet."""

    def __init__(self) -> None:
        self.signum = 0  # the first SIGHUP/SIGTERM received (later ones are ignored)
        self.main = None  # the main greenlet, once gevent is set up
        self.reading = False  # main is reading input (a blocking read for a script or -W)
        self.closing = False  # the session is being closed: nothing may interrupt that


_leaving = _Leaving()


def _on_leave_signal(signum, frame) -> None:  # noqa: ANN001
    """SIGHUP/SIGTERM. Python runs this in whichever greenlet is running — often gevent's
    hub or prompt_toolkit's asyncio callbacks, where an exception would be swallowed or
    printed — so it raises only where that is right (the main greenlet blocked in a read
    of a script); otherwise it asks the hub to stop the main greenlet (``_leave``)."""
    if _leaving.signum:
        return  # already leaving: let the clean-up finish
    _leaving.signum = signum
    if _leaving.main is None or _leaving.closing:
        if _leaving.main is None:  # before gevent is set up: nothing runs but this
            raise _Hangup()
        return
    import greenlet

    terminal = sys.modules.get(f"{__package__}.terminal")
    prompting = terminal is not None and terminal.prompting()
    if _leaving.reading and not prompting and greenlet.getcurrent() is _leaving.main:
        raise _Hangup()  # a blocking read: the hub cannot run until it ends
    import gevent

    gevent.get_hub().loop.run_callback(_leave, _leaving)


def _leave(leaving: _Leaving) -> None:
    """In the hub: end the prompt, or interrupt what the main greenlet waits for as Ctrl-C
    does (a running statement or run is cancelled on the server); before its next entry
    the shell then meets ``_Hangup`` (``_leaving_shell``)."""
    main = leaving.main
    if main is None or main.dead or leaving.closing:
        return
    terminal = sys.modules.get(f"{__package__}.terminal")
    if terminal is not None and terminal.prompting():
        if terminal.leave_prompt(_Hangup()):
            return
        import gevent

        gevent.get_hub().loop.timer(0.05).start(_leave, leaving)  # the prompt is still starting: again soon
        return
    main.throw(_Hangup() if leaving.reading else KeyboardInterrupt())


def _until_leaving(entries: Iterator[Entry | InputError]) -> Iterator[Entry | InputError]:
    """``entries``, until SIGHUP/SIGTERM: then ``_Hangup`` instead of reading the next
    entry; ``reading`` is set while one is read."""
    it = iter(entries)
    while True:
        if _leaving.signum:
            raise _Hangup()
        _leaving.reading = True
        try:
            entry = next(it)
        except StopIteration:
            return
        finally:
            _leaving.reading = False
        yield entry  # the shell's ``handle`` refuses it if a signal came meanwhile (_leaving_shell)


def _leaving_shell(shell_class: type) -> type:
    """``shell_class`` that meets ``_Hangup`` before every entry once SIGHUP/SIGTERM came,
    also before the next statement of an ``\\i`` file (the interrupted statement, cancelled,
    ends as a failed one and the file would go on)."""

    class LeavingShell(shell_class):
        def handle(self, entry):  # noqa: ANN001, ANN202
            if _leaving.signum:
                raise _Hangup()
            return super().handle(entry)

    return LeavingShell


def _install_leave_handlers() -> dict:
    """Handle SIGHUP and SIGTERM with ``_on_leave_signal``; return the previous handlers
    (none off the main thread)."""
    previous = {}
    for signum in LEAVE_SIGNALS:
        try:
            previous[signum] = signal.signal(signum, _on_leave_signal)
        except (ValueError, OSError):  # not the main thread
            pass
    return previous


def _restore_handlers(previous: dict) -> None:
    for signum, handler in previous.items():
        try:
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass


def _quiet_after_hangup(*streams: TextIO) -> None:
    """After a hangup the terminal may be gone: an output that cannot be flushed any more
    is pointed at os.devnull, so that the flush at interpreter exit reports nothing."""
    for stream in streams:
        try:
            stream.flush()
        except (OSError, ValueError):
            try:
                fd = stream.fileno()
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, fd)
                os.close(devnull)
            except (AttributeError, OSError, ValueError):
                pass


def _drop_output(*streams: TextIO) -> None:
    """Point each closed output (its pipe's reader gone) at os.devnull, so that nothing
    more, not even the flush at interpreter exit, reports the broken pipe (Python's
    documented way; stdout always, stderr when it too is closed)."""
    for i, stream in enumerate(streams):
        try:
            if i:
                stream.flush()
                continue
        except OSError:
            pass
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):  # StringIO: nothing to do
            continue
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


def main(argv: list[str] | None = None, stdin=None, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:  # noqa: ANN001
    """Run qshell; return the exit status (0 ok, 1 error, 2 connection, 3 stopped script;
    128 + the signal after SIGHUP or SIGTERM, or when its output pipe closed (SIGPIPE), as a
    shell reports a process the signal killed, as psql then is)."""
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    debug = bool(os.environ.get("QSHELL_DEBUG"))
    if not debug:
        warnings.simplefilter("ignore")
    args = list(sys.argv[1:] if argv is None else argv)
    global _leaving
    _leaving = _Leaving()
    previous = _install_leave_handlers()
    try:
        try:
            status = _main(args, stdin, out, err)
        except BaseException as exc:  # noqa: BLE001 - sorted out below
            if not _leaving.signum:
                return _failure(exc, args, out, err, debug)
        if _leaving.signum:  # SIGHUP/SIGTERM: the finally clauses have run; quiet
            _quiet_after_hangup(out, err)
            return 128 + _leaving.signum
        return status
    finally:
        _leaving.closing = True
        _restore_handlers(previous)


def _failure(exc: BaseException, args: list[str], out: TextIO, err: TextIO, debug: bool) -> int:
    """The exit status for what ended ``_main``, with its one line on ``err`` (no password
    of the command line in it)."""
    from qshell.session.connect import redact

    if isinstance(exc, QshellError):
        err.write(f"{PROG}: {redact(str(exc), *args)}\n")
        return int(exc.status)
    if isinstance(exc, (OutputClosed, BrokenPipeError)):  # qshell ... | head: end quietly, as psql does
        _drop_output(out, err)
        return 128 + signal.SIGPIPE  # (psql dies of the SIGPIPE: its shell says 141; qshell's session is closed first)
    if isinstance(exc, KeyboardInterrupt):
        err.write(f"{PROG}: interrupted\n")
        return int(ExitStatus.SCRIPT_STOPPED)
    if not isinstance(exc, Exception):  # SystemExit, GeneratorExit...: not ours to report
        raise exc
    if debug:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=err)
    err.write(f"{PROG}: internal error: {type(exc).__name__}: {redact(str(exc), *args)} (set QSHELL_DEBUG=1 for details)\n")
    return int(ExitStatus.ERROR)


def _main(argv: list[str], stdin, out: TextIO, err: TextIO) -> int:  # noqa: ANN001
    parser = build_parser()
    # psql's --help=TOPIC (only in that spelling: a word after a bare --help is no topic)
    topics = [a.partition("=")[2] for a in argv if a.startswith("--help=")]
    args = parser.parse_args([a for a in argv if not a.startswith("--help=")])
    if topics:
        args.help = topics[-1]
    if args.help is not None:
        if args.help == "options":
            out.write(parser.format_help())
        elif args.help == "commands":
            from qshell.script.commands import help_text

            out.write(help_text() + "\n")
        else:  # psql: nothing but its hint, exit 1
            raise UsageError(f"--help={args.help}: expected options or commands")
        return 0
    if not args.quiet:  # psql: a third positional argument and more are warned of, not refused
        for word in args.extra:
            err.write(f'{PROG}: warning: extra command-line argument "{word}" ignored\n')
    if args.version:
        out.write(f"{PROG} {__version__}\n")
        return 0
    if args.list:  # psql -l: the list of databases, whatever else was asked to run
        args.scripts = [("c", "\\l")]
    output = None
    if args.output is not None:  # psql opens it while reading its options: before connecting, exit 1 if it cannot
        from qshell.shell.files import open_target

        output = open_target(args.output)
    context = ScriptContext()
    settings, print_options = _print_options(args, _settings(args, context))
    settings = _other_settings(args, settings)
    from qshell.bootstrap import bootstrap

    bootstrap()
    import greenlet

    _leaving.main = greenlet.getcurrent()  # from now on SIGHUP/SIGTERM go through the hub
    from qshell.session import sandbox as sandbox_mod
    from qshell.session.connect import build_dsn, is_conninfo
    from qshell.session.session import login_user
    from qshell.shell.loop import Shell

    dbname = args.dbname_opt or args.dbname
    user = args.username_opt or args.username
    named = any(v for v in (dbname, user, args.host, args.port))
    binary_in = binary(stdin)
    interactive = not args.scripts and isatty(binary_in) and isatty(out)
    _leaving.reading = True  # a blocking read of the terminal
    try:
        password = _read_password(login_user(build_dsn(dbname=dbname, user=user))) if args.password else None
    finally:
        _leaving.reading = False

    if args.levels is not None and args.spec is None:
        raise UsageError("--levels needs --spec FILE.spec")
    if args.sandbox and (args.host or args.port or (dbname and is_conninfo(dbname))):
        raise UsageError("--sandbox connects to the embedded server: -h, -p and a connection string do not apply"
                         " (-d and -U do)")
    box = None
    if args.sandbox or sandbox_mod.wanted(named):
        box = sandbox_mod.start(Path(args.sandbox_dir) if args.sandbox_dir else None)
    try:
        dsn = box.dsn if box else build_dsn(dbname=dbname, host=args.host, port=args.port, user=user)
        if box and (dbname or user):
            dsn = build_dsn(base=dsn, dbname=dbname, user=user)
        if args.spec is not None and args.levels is not None:  # the anomaly table
            from qshell.shell.anomaly import levels_of, run_table
            from qshell.shell.isolation import read_spec

            table = run_table(read_spec(args.spec), levels_of(args.levels, "--levels"), dsn, password, out,
                              json=args.format == "json", name=args.spec, err=err)
            if table.interrupted:
                return 3
            return 1 if any(c.stopped for c in table.cells.values()) else 0
        if args.spec is not None:  # isolationtester's job: its connections, its output, its exit status
            from qshell.shell.isolation import read_spec, run_spec

            return run_spec(read_spec(args.spec), dsn, password, out, err).status
        session = _open_session(dsn, password, box, ask=args.password is not False)
        def sets() -> Path:
            return Path(os.environ["QSHELL_SETS_DIR"]) if os.environ.get("QSHELL_SETS_DIR") else data_dir() / "sets"

        try:
            shell = _leaving_shell(Shell)(session, out, err, settings=settings,
                                          history_dir=lambda: resolve_history_dir(args.history_dir),
                                          interactive=interactive, sets_dir=sets, context=context)
        except BaseException:  # a setting the session cannot take (--read-only behind a pooler)
            session.close()
            raise
        shell.pset.options = print_options
        shell.step_input = binary_in  # psql -s reads its answers from stdin
        shell.ask_password = args.password is not False  # -w: never
        if output is not None:
            shell.files.use_output(*output)
            output = None
        if args.log_file is not None:
            shell.log = psqlopts.open_log(args.log_file)
        startup = _startup(args, context)
        one = psqlopts.SingleTransaction(shell) if args.single_transaction and args.scripts else None
        try:
            if args.scale is not None:
                if box is None:
                    raise UsageError("--scale needs the sandbox (--sandbox, or no connection named)")
                shell.sets.load_pgbench(args.scale)
            if interactive:
                from qshell.shell.terminal import entries

                where = f"sandbox PostgreSQL {session.server_version} (embedded, data in {box.directory})" if box \
                    else f"PostgreSQL {session.server_version} at {session.target()}"
                out.write(f"{PROG} {__version__} — {where}\nType \\? for help, \\q to quit.\n")
                out.flush()
                typed = psqlopts.plain_entries(shell, binary_in) if args.no_readline \
                    else entries(shell, resolve_history_dir(args.history_dir) / "command_history")
                status = shell.run_inputs([*map(_until_leaving, startup), _until_leaving(typed)], startup=len(startup))
            elif args.scripts:
                actions = _scripts(args.scripts, binary_in, context)
                if one is not None:  # -1: BEGIN after the startup files, before the first action
                    actions.insert(0, one.begin())
                status = shell.run_inputs([_until_leaving(a) for a in (*startup, *actions)], startup=len(startup))
                if one is not None:
                    status = one.end(status)
            else:
                status = shell.run_inputs([*map(_until_leaving, startup),
                                           _until_leaving(read_stream(binary_in, "<stdin>", context))],
                                          startup=len(startup))
        finally:
            _leaving.closing = True  # SIGHUP/SIGTERM from here on: the clean-up goes on
            if interactive:
                from qshell.shell.terminal import stop_loading

                stop_loading(shell)
            if shell.made("runs"):
                shell.runs.close_history()
            if shell.made("files"):
                shell.files.close_output()  # \\o's file closed, its command waited for (as psql at exit)
            if shell.made("sessions"):
                shell.sessions.close_all()
            shell.session.close()
            if shell.log is not None:
                shell.log.close()
        return int(status)
    finally:
        _leaving.closing = True
        if output is not None:  # -o's file or command, the shell never reached
            output[0].close()
            if output[1] is not None:
                output[1].wait()
        if box is not None:
            box.stop()
