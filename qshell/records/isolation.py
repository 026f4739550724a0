"""What a run of an isolation spec did, as records: the events in the order they happened
(what isolationtester prints, one event per printed piece) and, per permutation, what
each step did (its results or error, its notices, whether and on what it waited, when it
was sent and when it completed).

The text is rendered from these by ``qshell.output.isolation``; the engine
(``qshell.engine.isolation``) makes them. Plain data: no qshell imports.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# where an event's text goes
STDOUT, STDERR = "stdout", "stderr"


@dataclass(frozen=True)
class Table:
    """A result set as libpq gave it: column names, rows of text (None for NULL)."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str | None, ...], ...]


@dataclass(frozen=True)
class SpecParsed:
    sessions: int


@dataclass(frozen=True)
class PermutationStarted:
    steps: tuple[str, ...]


@dataclass(frozen=True)
class ResultSet:
    """A result set printed: of a step, or of a setup/teardown block (``origin``)."""

    table: Table
    origin: str = "step"


@dataclass(frozen=True)
class StepSent:
    """``step NAME: SQL`` — printed when the step completes at once; with ``waiting`` it
    is ``… <waiting ...>``: the step was found waiting (``reason``: ``lock`` when the
    server said its backend waits for a session of the spec, ``*`` when the permutation
    forces one wait, ``blocker S`` / ``blocker S notices N`` while that annotation holds its
    completion back)."""

    step: str
    sql: str
    waiting: bool = False
    reason: str = ""


@dataclass(frozen=True)
class StepCompleted:
    """``step NAME: <... completed>``: a step reported waiting has completed."""

    step: str


@dataclass(frozen=True)
class StepError:
    """``SEVERITY:  message`` of a failed statement (isolationtester prints only the
    primary message: details may hold transaction ids); ``text`` is libpq's whole message
    when the error has no fields (a libpq-made error), printed as it is."""

    step: str
    severity: str | None
    message: str | None
    sqlstate: str | None = None
    text: str = ""


@dataclass(frozen=True)
class UnexpectedStatus:
    step: str
    status: str


@dataclass(frozen=True)
class Notice:
    """A notice or warning a session's backend sent, as libpq formats it (ends with a newline)."""

    session: str
    text: str


@dataclass(frozen=True)
class Notification:
    """``S: NOTIFY "channel" with payload "p" from SENDER`` (a session's name, else ``PID n``)."""

    session: str
    channel: str
    payload: str
    sender: str


@dataclass(frozen=True)
class StepCanceling:
    """The step ran longer than the limit: a cancel was sent (printed on stdout, as isolationtester)."""

    step: str
    seconds: int


@dataclass(frozen=True)
class Message:
    """A line isolationtester writes on stderr (a failed setup, an unused step…); ``fatal``:
    the run stopped there (isolationtester exits 1)."""

    text: str
    fatal: bool = False


@dataclass(frozen=True)
class Interrupted:
    """Ctrl-C: the steps still running were cancelled, the sessions rolled back and torn down."""

    cancelled: tuple[str, ...]


Event = (SpecParsed | PermutationStarted | ResultSet | StepSent | StepCompleted | StepError | UnexpectedStatus | Notice
         | Notification | StepCanceling | Message | Interrupted)


@dataclass
class StepOutcome:
    """What one step of a permutation did."""

    name: str
    session: str
    sql: str
    sent_at: float = 0.0  # time.monotonic() when it was sent
    completed_at: float | None = None  # None: it never completed (the run stopped)
    waited: bool = False  # it was reported <waiting ...>
    wait_reason: str = ""  # lock, *, blocker … (see StepSent): what it was first reported waiting for
    tables: list[Table] = field(default_factory=list)
    error: StepError | None = None  # the last error of its results
    notices: list[str] = field(default_factory=list)  # notices its session got while it ran
    notifications: list[Notification] = field(default_factory=list)
    cancelled: bool = False  # a cancel was sent (the time limit, or Ctrl-C)


@dataclass
class PermutationRecord:
    steps: tuple[str, ...]
    outcomes: list[StepOutcome] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    failed: str = ""  # the fatal message if the run stopped in this permutation
    interrupted: bool = False


@dataclass
class SpecRun:
    """A whole run: the events before the first permutation, and each permutation's."""

    sessions: tuple[str, ...]
    permutations: list[PermutationRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # every event, in order
    status: int = 0  # isolationtester's exit status: 0, or 1 when it stopped on a failure
