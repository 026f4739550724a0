"""Interactive input: a prompt_toolkit PromptSession yielding complete entries.

Imported only when stdin and stdout are a terminal (prompt_toolkit costs ~0.1 s to
import and must not touch piped input). Enter on an incomplete statement adds a line;
Ctrl-C discards the current input; Ctrl-D on an empty line ends the session.
"""
from __future__ import annotations

from collections import deque
from functools import partial
from pathlib import Path
from typing import Iterator

from prompt_toolkit import PromptSession
from prompt_toolkit.filters import is_searching
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.sql import PostgresLexer

from qshell.common.paths import private_file
from qshell.script.reader import Entry, EntryBuilder, InputError
from qshell.session.connect import redact

SOURCE = "<terminal>"

_app = None  # the prompt's Application while ``entries`` waits in it


class _MaskedHistory(FileHistory):
    """Command history that never stores a password typed in a conninfo or URI. A line
    that cannot be written (a full disk) stays in this session's memory; the first such
    failure is kept in ``failed`` for the shell to tell."""

    failed: OSError | None = None
    told = False

    def store_string(self, string: str) -> None:
        try:
            super().store_string(redact(string))
        except OSError as exc:
            if self.failed is None:
                self.failed = exc


def _complete(text: str) -> bool:
    """Enter submits: a complete entry, or — as psql obeys it at once — a backslash line
    typed on a new line of an unfinished statement (the statement stays in the buffer)."""
    builder = EntryBuilder(SOURCE, look_ahead=True)
    *head, last = text.split("\n")
    for line in head:
        for _ in builder.feed(line):  # (a generator: nothing is read until it runs)
            pass
    done = list(builder.feed(last))
    if any(isinstance(e, Entry) and e.text.startswith("\\") for e in done):
        return True
    return not builder.pending


def _bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter", filter=~is_searching)  # while Ctrl-R searches, Enter takes the match
    def _(event) -> None:  # noqa: ANN001
        buf = event.current_buffer
        if buf.complete_state is not None and buf.complete_state.current_completion is not None:
            buf.complete_state = None  # Enter on a chosen completion keeps it and closes the menu
            return
        if _complete(buf.text):
            buf.validate_and_handle()
        else:
            buf.newline(copy_margin=True)  # a new line, indented as the one above

    @kb.add("escape", "enter", filter=~is_searching)
    def _(event) -> None:  # noqa: ANN001 - Alt-Enter: submit as it is
        event.current_buffer.validate_and_handle()

    return kb


def _message(shell, builder: EntryBuilder) -> str:  # noqa: ANN001 - shell.Shell
    """The prompt for the input built so far (prompt_toolkit calls it on every redraw)."""
    return shell.prompt(builder.pending, skipping=builder.skipping)


def entries(shell, history_file: Path | None) -> Iterator[Entry | InputError]:  # noqa: ANN001 - shell.Shell
    """Prompt until Ctrl-D; yield each complete entry as the shell will parse it.

    The prompt (database, staged count, transaction state), the bottom toolbar and the
    completions are asked of ``shell`` before every line; text the shell leaves in
    ``prefill`` (after ``\\e``) becomes the next line's starting text.
    """
    import os

    from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
    from prompt_toolkit.output.color_depth import ColorDepth

    from qshell.shell.completion import CatalogLoader, QshellCompleter

    if history_file is not None:
        try:
            history: History = _MaskedHistory(str(private_file(history_file)))
        except OSError:
            history = InMemoryHistory()
    else:
        history = InMemoryHistory()
    loader = CatalogLoader(shell)
    shell.catalog_loader = loader
    loader.refresh()  # in the background: the first prompt does not wait for it
    no_color = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    session: PromptSession = PromptSession(
        history=history,
        multiline=True,
        key_bindings=_bindings(),
        lexer=None if no_color else _Lexer(),
        completer=QshellCompleter(shell, loader),
        complete_while_typing=False,
        auto_suggest=AutoSuggestFromHistory(),
        bottom_toolbar=lambda: shell.toolbar(),
        color_depth=ColorDepth.DEPTH_1_BIT if no_color else None,
        prompt_continuation=lambda width, line, wrap: shell.prompt(True).rjust(width),
        enable_history_search=False,
        include_default_pygments_style=not no_color,
    )
    builder = EntryBuilder(SOURCE, shell.context)
    typed: deque[str] = deque()  # the lines typed (or pasted) not read yet: COPY's data may be among them
    builder.lines = _data_lines(shell, typed)
    shell.context.readers.append(builder)  # (COPY … FROM STDIN typed here reads its data here)
    while True:
        default = shell.take_prefill() or ""
        if default:
            builder.reset()
        global _app
        _app = session.app
        try:
            text = session.prompt(partial(_message, shell, builder), default=default)
        except KeyboardInterrupt:
            builder.reset()  # Ctrl-C discards the current input (an open \\if stays, as in psql)
            continue
        except EOFError:
            break
        finally:
            _app = None
        if isinstance(history, _MaskedHistory) and history.failed is not None and not history.told:
            history.told = True
            why = history.failed.strerror or history.failed
            shell.notice(f"warning: command history {history_file} not written: {why}; this session's lines are kept in memory")
        typed.extend(text.split("\n"))
        while typed:
            yield from builder.feed(typed.popleft())
    leftover, error = builder.finish(send_pending=False)  # Ctrl-D: what is typed is not run, as psql
    yield from leftover
    if error is not None:
        yield error


def _data_lines(shell, typed: deque):  # noqa: ANN001, ANN202 - shell.Shell; () -> bytes | None
    """COPY … FROM STDIN's data at the prompt, a line at a time (None: the end, Ctrl-D):
    what was pasted with the statement first, then a line asked for with psql's ``>>``
    prompt (PROMPT3), on a prompt of its own (no history, no completion: Tab is data)."""
    made: list[PromptSession] = []

    def line() -> bytes | None:
        if typed:
            return typed.popleft().encode("utf-8", "surrogateescape")
        if not made:
            keys = KeyBindings()

            @keys.add("tab")
            def _tab(event) -> None:  # noqa: ANN001 - a tab is data (a column separator), not completion
                event.current_buffer.insert_text("\t")

            made.append(PromptSession(history=InMemoryHistory(), key_bindings=keys))
        try:
            text = made[0].prompt(shell.variables.get("PROMPT3") or ">> ")
        except EOFError:
            return None
        return text.encode("utf-8", "surrogateescape")

    return line


def prompting() -> bool:
    """True while the prompt waits for input."""
    return _app is not None


def leave_prompt(exc: BaseException) -> bool:
    """End the waiting prompt by raising ``exc`` from it (SIGHUP, SIGTERM), as prompt_toolkit
    ends it itself: the terminal's modes are put back. Callable from any greenlet, the hub
    included; False when the prompt has not started its event loop yet (try again)."""
    app = _app
    loop = app.loop if app is not None else None
    if loop is None or loop.is_closed():
        return False

    def finish() -> None:
        if app is None or _app is not app:  # the prompt returned meanwhile: the caller sees the signal
            return
        if app.future is None:  # still starting
            loop.call_later(0.05, finish)
        elif not app.future.done():
            app.exit(exception=exc)

    try:
        loop.call_soon_threadsafe(finish)  # wakes the prompt's selector, whatever greenlet we are in
    except RuntimeError:  # the loop closed meanwhile
        return False
    return True


def stop_loading(shell) -> None:  # noqa: ANN001 - shell.Shell
    """Stop a catalog load still running in the background, before the session closes:
    its greenlet, suspended mid-query, holds psycopg2's lock of the side connection, and
    closing that connection would then block the whole process (a hangup or \\q right
    after the start). Killed, the load's query is cancelled and its answer read."""
    loader = getattr(shell, "catalog_loader", None)
    job = getattr(loader, "_job", None)
    if job is not None and not job.dead:
        job.kill(block=True, timeout=5)


class _Lexer(PygmentsLexer):
    """SQL through pygments' PostgreSQL lexer; a meta-command line shown as one distinct token."""

    def __init__(self) -> None:
        super().__init__(PostgresLexer)

    def lex_document(self, document):  # noqa: ANN001, ANN201
        sql = super().lex_document(document)

        def get_line(lineno: int):  # noqa: ANN202
            line = document.lines[lineno]
            if line.lstrip().startswith("\\"):
                word, _, rest = line.partition(" ")
                return [("class:pygments.name.builtin bold", word)] + ([("", " " + rest)] if _ else [])
            return sql(lineno)

        return get_line
