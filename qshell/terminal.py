"""Interactive input: a prompt_toolkit PromptSession yielding complete entries.

Imported only when stdin and stdout are a terminal (prompt_toolkit costs ~0.1 s to
import and must not touch piped input). Enter on an incomplete statement adds a line;
Ctrl-C discards the current input; Ctrl-D on an empty line ends the session.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.sql import PostgresLexer

from .connect import mask
from .paths import private_file
from .reader import Entry, EntryBuilder, InputError

SOURCE = "<terminal>"


class _MaskedHistory(FileHistory):
    """Command history that never stores a password typed in a conninfo or URI."""

    def store_string(self, string: str) -> None:
        super().store_string(mask(string))


def _complete(text: str) -> bool:
    builder = EntryBuilder(SOURCE)
    for line in text.split("\n"):
        builder.feed(line)
    return not builder.pending


def _bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("enter")
    def _(event) -> None:  # noqa: ANN001
        buf = event.current_buffer
        if buf.document.is_cursor_at_the_end and not _complete(buf.text):
            buf.insert_text("\n")
        elif not buf.document.is_cursor_at_the_end and not _complete(buf.text):
            buf.insert_text("\n")
        else:
            buf.validate_and_handle()

    @kb.add("escape", "enter")
    def _(event) -> None:  # noqa: ANN001 - Alt-Enter: submit as it is
        event.current_buffer.validate_and_handle()

    return kb


def entries(prompt: Callable[[bool], str], history_file: Path | None) -> Iterator[Entry | InputError]:
    """Prompt until Ctrl-D; yield each complete entry as the shell will parse it.

    ``prompt(continuation)`` gives the prompt text (it shows the staged count, so it is
    asked again before every line).
    """
    if history_file is not None:
        try:
            history = _MaskedHistory(str(private_file(history_file)))
        except OSError:
            history = InMemoryHistory()
    else:
        history = InMemoryHistory()
    session: PromptSession = PromptSession(
        history=history,
        multiline=True,
        key_bindings=_bindings(),
        lexer=PygmentsLexer(PostgresLexer),
        prompt_continuation=lambda width, line, wrap: prompt(True).rjust(width),
        enable_history_search=False,
    )
    builder = EntryBuilder(SOURCE)
    while True:
        try:
            text = session.prompt(lambda: prompt(builder.pending))
        except KeyboardInterrupt:
            builder = EntryBuilder(SOURCE)  # Ctrl-C discards the current input
            continue
        except EOFError:
            break
        for line in text.split("\n"):
            yield from builder.feed(line)
    leftover, error = builder.finish()
    yield from leftover
    if error is not None:
        yield error
