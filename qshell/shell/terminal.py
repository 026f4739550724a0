"""Interactive input: a prompt_toolkit PromptSession yielding complete entries.

Imported only when stdin and stdout are a terminal (prompt_toolkit costs ~0.1 s to
import and must not touch piped input). Enter on an incomplete statement adds a line;
Ctrl-C discards the current input; Ctrl-D on an empty line ends the session.
"""
from __future__ import annotations

import re
from collections import deque
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

from prompt_toolkit import PromptSession
from prompt_toolkit.filters import is_searching
from prompt_toolkit.history import InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.keys import Keys
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.sql import PostgresLexer

from qshell.script.reader import TERMINAL, Entry, EntryBuilder, InputError, ScriptContext

SOURCE = TERMINAL

_app = None  # the prompt's Application while ``entries`` waits in it


INTRO = """You are using qshell, a PostgreSQL shell that speaks psql.
Type:  \\copyright for distribution terms
       \\h for help with SQL commands
       \\? for help with qshell's and psql's commands
       \\g or terminate with semicolon to execute query
       \\q to quit"""
_BARE_WORD = re.compile(r"(help|quit|exit)[ \t\n\r\f\v]*;?[ \t\n\r\f\v]*", re.IGNORECASE)


def _bare_word(text: str) -> str | None:
    """``help``, ``quit`` or ``exit`` alone on a line (a ";" after it allowed, no space
    before it), as psql takes them at its prompt when no statement is being typed."""
    m = _BARE_WORD.fullmatch(text)
    return m.group(1).lower() if m else None


def _complete(text: str, single_line: bool = False) -> bool:
    """Enter submits: a complete entry, or — as psql obeys it at once — a backslash line
    typed on a new line of an unfinished statement (the statement stays in the buffer);
    with psql's SINGLELINE (-S) the end of the line ends a statement too."""
    if _bare_word(text):
        return True  # help, quit, exit: taken at once, as psql takes them
    context = ScriptContext()
    if single_line:
        context.variables.set("SINGLELINE", "on")
    builder = EntryBuilder(SOURCE, context, look_ahead=True)
    *head, last = text.split("\n")
    for line in head:
        for _ in builder.feed(line):  # (a generator: nothing is read until it runs)
            pass
    done = list(builder.feed(last))
    if any(isinstance(e, Entry) and e.text.startswith("\\") for e in done):
        return True
    return not builder.pending


def _bindings(single_line: Callable[[], bool] = lambda: False) -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter", filter=~is_searching)  # while Ctrl-R searches, Enter takes the match
    def _(event) -> None:  # noqa: ANN001
        buf = event.current_buffer
        if buf.complete_state is not None and buf.complete_state.current_completion is not None:
            buf.complete_state = None  # Enter on a chosen completion keeps it and closes the menu
            return
        if _complete(buf.text, single_line()):
            buf.validate_and_handle()
        else:
            buf.newline(copy_margin=True)  # a new line, indented as the one above

    @kb.add("escape", "enter", filter=~is_searching)
    def _(event) -> None:  # noqa: ANN001 - Alt-Enter: submit as it is
        event.current_buffer.validate_and_handle()

    mouse = _mouse_handler()

    @kb.add(Keys.Vt100MouseEvent)
    def _(event):  # noqa: ANN001, ANN202
        """A mouse report, as prompt_toolkit reads it; an escape sequence typed or pasted
        outside a bracketed paste that only looks like one (ESC [ 3 1 m) is dropped: its
        parser would raise, and prompt_toolkit show a traceback and wait for Enter."""
        try:
            return mouse(event)
        except ValueError:
            return None

    return kb


def _mouse_handler() -> Callable:
    """prompt_toolkit's own handler of a VT100 mouse report."""
    from prompt_toolkit.key_binding.bindings.mouse import load_mouse_bindings

    for binding in load_mouse_bindings().bindings:
        if binding.keys == (Keys.Vt100MouseEvent,):
            return binding.handler
    return lambda event: None


def _formatted(text: str):  # noqa: ANN202 - str or prompt_toolkit's ANSI
    """A prompt with escape sequences (a PROMPT1 with %[%033[1m%]) as ANSI text: its
    colours drawn, the invisible parts (between \\001 and \\002) given no width."""
    if "\x1b" in text or "\x01" in text:
        from prompt_toolkit.formatted_text import ANSI

        return ANSI(text)
    return text


def _message(shell, builder: EntryBuilder):  # noqa: ANN001, ANN201 - shell.Shell
    """The prompt for the input built so far (prompt_toolkit calls it on every redraw)."""
    typed = builder.pending_text
    return _formatted(shell.prompt(typed + "\n" if typed else builder.pending, skipping=builder.skipping))


def _continuation(shell, builder: EntryBuilder, session, width: int, line: int):  # noqa: ANN001, ANN201
    """The prompt of line ``line`` (from 0) of the text being typed: PROMPT2 as psql draws
    it (%R: what the text above leaves open, %l: the statement's line), or qshell's own."""
    above = "\n".join(session.default_buffer.document.lines[:line])
    before = builder.pending_text
    text = shell.prompt(before + ("\n" if before else "") + above + "\n", skipping=builder.skipping)
    if shell.prompter.prompt(2, "") is None:  # qshell's own: right-aligned under the first prompt
        return text.rjust(width)
    return _formatted(text)


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
    from qshell.shell.histfile import open_history

    history = open_history(shell, history_file)  # HISTFILE's when set (read after the startup files, as psql)
    loader = CatalogLoader(shell)
    shell.catalog_loader = loader
    loader.refresh()  # in the background: the first prompt does not wait for it
    no_color = bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"
    builder = EntryBuilder(SOURCE, shell.context)
    session: PromptSession = PromptSession(
        history=history,
        multiline=True,
        key_bindings=_bindings(lambda: shell.variables.is_on("SINGLELINE")),
        lexer=None if no_color else _Lexer(),
        completer=QshellCompleter(shell, loader),
        complete_while_typing=False,
        auto_suggest=AutoSuggestFromHistory(),
        bottom_toolbar=lambda: shell.toolbar(),
        color_depth=ColorDepth.DEPTH_1_BIT if no_color else None,
        prompt_continuation=lambda width, line, wrap: _continuation(shell, builder, session, width, line),
        enable_history_search=False,
        include_default_pygments_style=not no_color,
    )
    typed: deque[str] = deque()  # the lines typed (or pasted) not read yet: COPY's data may be among them
    builder.lines = _data_lines(shell, typed)
    shell.context.readers.append(builder)  # (COPY … FROM STDIN typed here reads its data here)
    while True:
        default = shell.take_prefill() or ""
        if default:
            builder.reset()
        global _app
        _app = session.app
        shell.prompter.next_input()
        try:
            text = session.prompt(partial(_message, shell, builder), default=default)
        except KeyboardInterrupt:
            builder.reset()  # Ctrl-C discards the current input (an open \\if stays, as in psql)
            continue
        except EOFError:
            break
        finally:
            _app = None
        failed = getattr(history, "failed", None)
        if failed is not None and not getattr(history, "told", True):
            history.told = True  # type: ignore[attr-defined]
            why = failed.strerror or failed
            shell.notice(f"warning: command history {shell.history_file} not written: {why}; this session's lines are kept in memory")
        word = _bare_word(text)
        if word is not None and not builder.pending:
            if word in ("quit", "exit"):
                break  # psql 11+: quit or exit alone on a line ends the session
            shell.write(INTRO)
            shell._flush_page()  # (no command ran to show it)
            continue
        if word is not None:  # a statement is being typed: said, and the line is part of it, as psql
            from qshell.script.sqlsplit import split

            inside = split(builder.pending_text, std_strings=shell.context.std_strings).open_construct
            shell.write("Use \\? for help or press control-C to clear the input buffer." if word == "help"
                        else "Use \\q to quit." if inside in (None, "parenthesis") else "Use control-D to quit.")
            shell._flush_page()
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
            text = made[0].prompt(_formatted(shell.prompter.prompt(3) or ">> "))  # PROMPT3, psql's escapes
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
