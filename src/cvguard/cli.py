"""The ``cvguard`` command line.

    cvguard screen "TEXT" [--json]            one verdict, readable or as JSON
    cvguard screen --jsonl IN --out OUT       {"id", "text"} lines in, verdict lines out, streaming
    cvguard serve [--host H] [--port P]       the HTTP API
    cvguard train / cvguard eval --data FILE  the model (see ``cvguard.detection.training``)
    cvguard simulate --seed N --out FILE      a simulated event stream with ground truth
    cvguard replay EVENTS --out ALERTS        events through the whole pipeline, alerts out
    cvguard worker --redis URL --db URL       a consumer of the Redis event stream (scale-out)
    cvguard purge [--older-than-days N]       drop old raw text (retention), hashes kept
    cvguard keys create --role ROLE [--user ID]  an API key (printed once, alone on the last line)
    cvguard keys list / keys revoke ID        the keys there are (no secrets) / end one now
    cvguard evidence verify PACKAGE [--db]    check an evidence package (exit 2 naming what changed)
    cvguard evidence verify-vault / export    check the stored vault / write a case's package
    cvguard policy validate FILE / policy diff  check policies / compare two on events
    cvguard audit verify [--db URL]           check the audit trail's chain (exit 2 naming the entry)
    cvguard audit export --since T --until T --out DIR   the entries of a period, with a manifest
    cvguard audit verify-export DIR_OR_ZIP    check an export (exit 2 naming the entry)
    cvguard mcn validate FILE                 check MCN thresholds files (exit 2 naming every issue)

Every :class:`~cvguard.errors.CvguardError` ends the command with its message on stderr and exit
code 2; that mapping lives in :class:`_Commands` and nowhere else.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from cvguard.config import Settings, get_settings, redact_url
from cvguard.detection.screen import Screener
from cvguard.errors import CvguardError, InputError, StoreError
from cvguard.plugin import Plugged, plugged
from cvguard.runtime import long_running
from cvguard.verdict import Verdict

log = logging.getLogger("cvguard")
EXIT_INPUT = 2
CHUNK_LINES = 512
# Events per replay batch, one transaction each; pipeline.engine.DEFAULT_BATCH (not imported here
# so that the CLI starts without loading the pipeline).
REPLAY_BATCH = 5000
T = TypeVar("T")
# What a JSONL output line carries (the DESIGN contract); versions and notes stay out of bulk output.
_JSONL_KEYS = ("violation", "score", "severity", "categories", "spans")


def _stderr() -> Console:
    """Messages for people on stderr, never wrapped at the terminal's width (paths stay whole)."""
    return Console(stderr=True, highlight=False, soft_wrap=True)


class _Commands(TyperGroup):
    """Turns cvguard's own errors into ``error: ...`` on stderr and exit code 2, in one place."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context, but typed against its vendored click
        try:
            return super().invoke(ctx)
        except CvguardError as exc:
            _stderr().print(Text(f"error: {_printable(str(exc))}"))
            raise typer.Exit(EXIT_INPUT) from None
        except ValidationError as exc:  # a CVGUARD_* setting is invalid: say which, exit 2
            if exc.title != Settings.__name__:
                raise
            _stderr().print(Text(f"error: {_printable(_settings_problem(exc))}"))
            raise typer.Exit(EXIT_INPUT) from None


def _settings_problem(exc: ValidationError) -> str:
    problems = [
        f"CVGUARD_{str(e['loc'][0]).upper()}: {e['msg']}" if e["loc"]
        else e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    ]
    return "invalid settings: " + "; ".join(problems)


app = typer.Typer(
    cls=_Commands,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Cyber-violence screening and governance.",
)


def _printable(value: str) -> str:
    """``value`` safe to write to a UTF-8 terminal: lone surrogates and controls escaped."""
    value = value.encode("utf-8", "backslashreplace").decode("utf-8")
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode() for ch in value
    )


def _json_line(obj: dict[str, Any]) -> bytes:
    line = json.dumps(obj, ensure_ascii=False)
    try:
        return line.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate (legal in JSON escapes, not in UTF-8): fall back to \u escapes.
        return json.dumps(obj).encode("ascii") + b"\n"


# ---------------------------------------------------------------------------------- screen


def _print_verdict(console: Console, text: str, verdict: Verdict) -> None:
    if verdict.violation:
        head = Text("violation: yes", style="bold red")
        head.append(f"   severity: {verdict.severity}   score: {verdict.score:.2f}", style="red")
    else:
        head = Text("violation: no", style="bold green")
        head.append(f"   score: {verdict.score:.2f}")
    console.print(head)
    ranked = sorted(((c, v) for c, v in verdict.categories.items() if v >= 0.005), key=lambda kv: -kv[1])
    if ranked:
        top = ", ".join(f"{code} {score:.2f}" for code, score in ranked[:5])
        console.print(Text(f"categories: {top}"), soft_wrap=True)
    if verdict.spans:
        table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
        for column in ("text", "offsets", "category", "source", "match", "term"):
            table.add_column(column)
        for span in verdict.spans:
            table.add_row(
                Text(_printable(text[span.start : span.end]), style="bold"),
                f"{span.start}-{span.end}",
                span.category,
                span.source,
                span.match or "-",
                Text(_printable(span.term)),
            )
        console.print(table)
    for note in verdict.notes:
        console.print(Text(f"note: {_printable(note)}", style="dim"))
    versions = ", ".join(f"{k}={v}" for k, v in sorted(verdict.versions.items()))
    console.print(Text(f"versions: {versions}", style="dim"))


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    id: str | int
    text: str


def _parse_line(number: int, raw: bytes, limit: int) -> _Line | None:
    """One input line, or ``None`` for a blank one; raises InputError naming the line."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"line {number}: not valid UTF-8") from None
    if not decoded.strip():
        return None
    try:
        obj = json.loads(decoded)
    except json.JSONDecodeError as exc:
        raise InputError(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise InputError(f"line {number}: JSON nested too deeply") from None
    if not isinstance(obj, dict):
        raise InputError(f'line {number}: expected a JSON object with "id" and "text"')
    if "id" not in obj:
        raise InputError(f'line {number}: missing "id"', field="id")
    line_id = obj["id"]
    if isinstance(line_id, bool) or not isinstance(line_id, str | int):
        raise InputError(f'line {number}: "id" must be a string or an integer', field="id")
    if "text" not in obj:
        raise InputError(f'line {number}: missing "text"', field="text")
    text = obj["text"]
    if not isinstance(text, str):
        raise InputError(f'line {number}: "text" must be a string', field="text")
    if len(text) > limit:
        raise InputError(
            f'line {number}: "text" has {len(text)} characters; the limit is {limit}', field="text"
        )
    return _Line(number, line_id, text)


@dataclass(slots=True)
class _Tally:
    lines: int = 0
    violations: int = 0


def _screen_stream(
    screener: Screener,
    src: IO[bytes],
    dst: IO[bytes],
    *,
    limit: int,
    chunk: int,
    tally: _Tally,
    progress: Any,
) -> None:
    pending: list[_Line] = []

    def flush() -> None:
        if not pending:
            return
        verdicts = screener.screen_many([line.text for line in pending])
        out = bytearray()
        for line, verdict in zip(pending, verdicts, strict=True):
            full = verdict.to_dict()
            out += _json_line({"id": line.id, **{k: full[k] for k in _JSONL_KEYS}})
            tally.violations += verdict.violation
        dst.write(out)
        dst.flush()
        tally.lines += len(pending)
        pending.clear()

    for number, raw in enumerate(_lines(src, progress), start=1):
        try:
            parsed = _parse_line(number, raw, limit)
        except InputError:
            flush()  # every good line before the bad one is written before we stop
            raise
        if parsed is not None:
            pending.append(parsed)
            if len(pending) >= chunk:
                flush()
    flush()


def _lines(src: IO[bytes], progress: Callable[[int], None] | None) -> Iterator[bytes]:
    for raw in src:
        if progress is not None:
            progress(len(raw))
        yield raw


@app.command()
def screen(
    text: Annotated[str | None, typer.Argument(help="The text to screen.", show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    jsonl: Annotated[
        str | None, typer.Option("--jsonl", help='Read {"id", "text"} lines from a file ("-": stdin).')
    ] = None,
    out: Annotated[str, typer.Option("--out", "-o", help='Where verdict lines go ("-": stdout).')] = "-",
    chunk: Annotated[int, typer.Option(min=1, help="Lines screened together.")] = CHUNK_LINES,
) -> None:
    """Screen one text, or a JSONL file of texts (one verdict line per input line)."""
    if (text is None) == (jsonl is None):
        raise typer.BadParameter("give either TEXT or --jsonl FILE", param_hint="TEXT / --jsonl")
    settings = get_settings()
    screener = plugged(settings)()  # the built-in screener, or the cascade with the platform's model
    if text is not None:
        if len(text) > settings.max_text_chars:
            raise InputError(f"the text has {len(text)} characters; the limit is {settings.max_text_chars}")
        verdict = screener.screen(text)
        if as_json:
            sys.stdout.buffer.write(_json_line(verdict.to_dict()))
            sys.stdout.flush()
        else:
            _print_verdict(Console(highlight=False), text, verdict)
        return
    assert jsonl is not None
    limit = min(settings.max_text_chars, screener.max_chars)
    _screen_jsonl(screener, jsonl, out, limit=limit, chunk=chunk)


def _open_pair(stack: ExitStack, source: str, out: str) -> tuple[IO[bytes], IO[bytes]]:
    """The input and output streams of a JSONL command; ``-`` means stdin / stdout."""
    # The files are closed by ``stack``, which the caller holds open for the whole command.
    try:
        src = sys.stdin.buffer if source == "-" else stack.enter_context(Path(source).open("rb"))  # noqa: SIM115
        dst = sys.stdout.buffer if out == "-" else stack.enter_context(Path(out).open("wb"))  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror}") from None
    return src, dst


def _screen_jsonl(screener: Screener, jsonl: str, out: str, *, limit: int, chunk: int) -> None:
    err = _stderr()
    tally = _Tally()
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            src, dst = _open_pair(stack, jsonl, out)
            advance = _progress(stack, err, None if jsonl == "-" else Path(jsonl).stat().st_size)
            _screen_stream(screener, src, dst, limit=limit, chunk=chunk, tally=tally, progress=advance)
    finally:
        # after the progress bar is gone, so the summary stays on screen
        seconds = time.perf_counter() - started
        err.print(
            Text(f"{tally.lines} lines, {tally.violations} violations, {seconds:.2f} s"), soft_wrap=True
        )


def _progress(
    stack: ExitStack, err: Console, total_bytes: int | None, label: str = "screening"
) -> Callable[[int], None] | None:
    """A progress bar over input bytes on an interactive stderr; nothing when piped or logged."""
    if not err.is_terminal:
        return None
    progress = stack.enter_context(
        Progress(
            TextColumn(label),
            BarColumn(),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        )
    )
    task = progress.add_task(label, total=total_bytes)

    def advance(n: int) -> None:
        progress.advance(task, n)

    return advance


# ----------------------------------------------------------------------------------- serve


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the HTTP API (settings from CVGUARD_* environment variables)."""
    import uvicorn

    from cvguard.api import create_app

    settings = get_settings()
    long_running()
    _log_to_stderr(settings)
    app = create_app(settings)
    app.state.pipeline()  # open the store and migrate before listening: a bad database fails here
    _first_admin_key(settings)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())


ADMIN_KEY_FILE = "admin.key"


def _first_admin_key(settings: Settings) -> None:
    """With no active key at all, create an admin key, print it once and keep it in
    ``data_dir/admin.key`` (mode 0600); later starts say where that file is, never the key."""
    from cvguard.store.keys import KeyStore

    path = settings.data_dir / ADMIN_KEY_FILE
    with KeyStore.open(settings.database_url) as keys:
        if keys.any_active():
            where = f" (the first admin key is in {path})" if path.exists() else ""
            typer.echo(f"API keys: `cvguard keys list`{where}", err=True)
            return
        issued = keys.create(role="admin", name="first admin (cvguard serve)")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(issued.key + "\n")
    os.chmod(partial, 0o600)  # whatever the umask
    os.replace(partial, path)
    typer.echo(
        f"No API key existed: created admin key {issued.key_id}, kept in {path} (owner only).\n"
        "It is shown this once; send it as `Authorization: Bearer KEY`, or use it in /docs (Authorize):\n"
        f"{issued.key}",
        err=True,
    )


# -------------------------------------------------------------------------------- simulate


@app.command()
def simulate(
    out: Annotated[str, typer.Option("--out", "-o", help='Where the JSONL stream goes ("-": stdout).')],
    seed: Annotated[int, typer.Option(help="Random seed; one seed gives one file, byte for byte.")] = 0,
    hours: Annotated[float, typer.Option(min=0.01, help="Simulated hours.")] = 24.0,
    users: Annotated[int, typer.Option(min=100, help="Background accounts.")] = 5000,
    targets: Annotated[int, typer.Option(min=1, help="Creators that draw comments (Zipf).")] = 1000,
    topics: Annotated[int, typer.Option(min=1, help="Topics (Zipf).")] = 40,
    scenario: Annotated[
        str,
        typer.Option(
            help="all, none, or a comma list of pileon,brigade,incitement,celebrity,debate,"
            "viral,news,fanwar,groupdebate."
        ),
    ] = "all",
    incidents: Annotated[
        int | None, typer.Option(min=0, help="How many of each scenario (default: scaled to --hours).")
    ] = None,
    out_of_order: Annotated[float, typer.Option(help="Share of events delivered late (up to 30 s).")] = 0.01,
) -> None:
    """Write a simulated event stream with its ground truth on line 1 (see cvguard.simulate)."""
    from cvguard.simulate import SCENARIO_NAMES, SimConfig, write_file

    names = {"all": SCENARIO_NAMES, "none": ()}.get(scenario)
    if names is None:
        names = tuple(n.strip() for n in scenario.split(",") if n.strip())
    config = SimConfig(
        seed=seed, hours=hours, users=users, targets=targets, topics=topics, scenarios=names,
        incidents=incidents, out_of_order=out_of_order,
    )
    started = time.perf_counter()
    summary = write_file(config, out)
    seconds = time.perf_counter() - started
    _stderr().print(
        Text(
            f"{summary.events} events, {summary.incidents} incidents, {summary.non_incidents} non-incidents,"
            f" {summary.bytes / 1e6:.1f} MB, {seconds:.2f} s"
        ),
        soft_wrap=True,
    )


# ---------------------------------------------------------------------------------- replay


@app.command()
def replay(
    events: Annotated[str, typer.Argument(help='Events, one JSON object a line ("-": stdin).')],
    out: Annotated[str, typer.Option("--out", "-o", help='Where alert lines go ("-": stdout).')],
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: CVGUARD_DATABASE_URL or SQLite).")
    ] = None,
    batch: Annotated[
        int, typer.Option(min=1, help="Events per pipeline batch (one transaction).")
    ] = REPLAY_BATCH,
    decisions: Annotated[
        str | None,
        typer.Option("--decisions", help='Where decision lines go, one per new event ("-": stdout).'),
    ] = None,
) -> None:
    """Push events through the whole pipeline in event time; write every alert raised or escalated.

    Events already stored (same event_id) are skipped, so replaying a file twice changes nothing.
    A malformed line stops the run with its line number (exit 2); the lines before it are kept.
    ALERTS is added to, never truncated: one line per alert emission, each written once however
    many runs it took (a crashed run resumed, a file replayed again). Remove it to start afresh.
    Events far ahead of the file's own time (a 2099 typo) are set aside and listed, never applied.
    With --decisions, each new event's decision under the active policy (CVGUARD_POLICY_FILE, or the
    default) is added to DECISIONS as one JSON line: action, rule, matched rules, spans, alert ids,
    policy version. Decisions rest on the behaviour state after each batch (--batch).
    """
    from cvguard.pipeline import Pipeline, ReplaySummary, alert_line
    from cvguard.pipeline import replay as run_replay
    from cvguard.pipeline.replay import FAULT_ENV

    settings = get_settings()
    if db is not None:
        settings = settings.model_copy(update={"database_url": db})
    long_running()
    _log_to_stderr(settings)
    err = _stderr()
    summary = ReplaySummary()
    try:
        with ExitStack() as stack:
            src = _open_pair(stack, events, "-")[0]
            dst, written = _open_alerts(stack, out)
            pipeline = stack.enter_context(
                Pipeline.open(settings, batch_size=batch, offline=True, screener=plugged(settings)())
            )
            decided = _open_decisions(stack, decisions) if decisions is not None else None

            def write_decisions(made: Any) -> None:
                assert decided is not None
                decided.write(b"".join(_alert_json(d.to_dict()) for d in made))
                decided.flush()

            def write(alerts: Any) -> None:
                lines = []
                for a in alerts:
                    key = _emission(alert_line(a))
                    if key not in written:
                        written.add(key)
                        lines.append(_alert_json(alert_line(a)))
                dst.write(b"".join(lines))
                dst.flush()

            size = None if events == "-" else Path(events).stat().st_size
            advance = _progress(stack, err, size, "replaying")
            advance = advance if advance is not None else _progress_log("replay", summary)
            fault = os.environ.get(FAULT_ENV)
            run_replay(pipeline, src, on_alerts=write, progress=advance, summary=summary,
                       crash_after=int(fault) if fault else None,
                       on_decisions=write_decisions if decided is not None else None)
    finally:
        _print_replay_summary(err, summary.to_dict())


def _progress_log(label: str, summary: Any, every_s: float | None = None) -> Callable[[int], None]:
    """Without a terminal (piped, a service's log): an INFO line every 10 s instead of a bar."""
    from cvguard.progress import EVERY_S, ProgressLog

    progress = ProgressLog(log, label, every_s=EVERY_S if every_s is None else every_s)
    calls = 0

    def tick(_n: int) -> None:
        nonlocal calls
        calls += 1
        if calls % 256 == 0 and progress.due():  # called once a line: look at the clock seldom
            alerts = sum(list(summary.alerts.values()))  # one C-level copy: safe while it grows
            progress.report(events=summary.events, extra=f"{summary.lines} lines read, {alerts} alerts")

    return tick


def _log_to_stderr(settings: Settings) -> None:
    """cvguard's own log lines (progress, warnings) on stderr, at the configured level."""
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def _emission(line: dict[str, Any]) -> str:
    """What identifies one alert emission: an episode at a level, as of a time (and resolution)."""
    return "\x00".join(str(line.get(k)) for k in ("alert_id", "level", "updated_at", "resolved_at"))


def _open_alerts(stack: ExitStack, out: str) -> tuple[IO[bytes], set[str]]:
    """ALERTS opened to add to, with the emissions it already holds (a torn last line is cut)."""
    if out == "-":
        return sys.stdout.buffer, set()
    path = Path(out)
    written: set[str] = set()
    try:
        dst = stack.enter_context(path.open("a+b"))
        dst.seek(0)
        good = 0
        for raw in dst:
            if not raw.endswith(b"\n"):
                break  # a run killed mid-write
            try:
                line = json.loads(raw)
                if isinstance(line, dict):
                    written.add(_emission(line))
            except (ValueError, RecursionError):
                pass  # not an alert line: left as it is
            good += len(raw)
        dst.truncate(good)
        dst.seek(0, 2)
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror}") from None
    return dst, written


def _open_decisions(stack: ExitStack, out: str) -> IO[bytes]:
    """DECISIONS opened to add to (one line per new event; a replayed file adds nothing)."""
    if out == "-":
        return sys.stdout.buffer
    try:
        return stack.enter_context(Path(out).open("ab"))
    except OSError as exc:
        raise InputError(f"{exc.filename}: {exc.strerror}") from None


def _alert_json(obj: dict[str, Any]) -> bytes:
    line = json.dumps(obj, ensure_ascii=False, default=str)
    try:
        return line.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return json.dumps(obj, default=str).encode("ascii") + b"\n"


def _print_replay_summary(err: Console, s: dict[str, Any]) -> None:
    err.print(
        Text(
            f"{s['events']} events ({s['new']} new, {s['duplicates']} duplicates), {s['alerts']} alerts,"
            f" {s['seconds']:.2f} s, {s['events_per_s']:.0f} events/s"
        ),
        soft_wrap=True,
    )
    for key, listed, what in (
        ("late", "late_ids", "late (stored, not fed to behaviour: too far behind the clock)"),
        ("set_aside", "set_aside_ids", "set aside (far ahead of the file's own time: not applied)"),
        ("conflicts", "conflict_ids", "conflicts (event_id stored with another text: not stored)"),
    ):
        if s[key]:
            ids = s[listed]
            more = f" (first {len(ids)})" if len(ids) < s[key] else ""
            err.print(Text(f"  {s[key]} {what}: {', '.join(ids)}{more}"), soft_wrap=True)
    for kind, levels in s["alerts_by_kind"].items():
        shown = ", ".join(f"{level} {n}" for level, n in levels.items())
        err.print(Text(f"  {kind}: {shown}"), soft_wrap=True)


# ------------------------------------------------------------------------------ train/eval


# ---------------------------------------------------------------------------------- worker


@app.command()
def worker(
    redis_url: Annotated[
        str | None, typer.Option("--redis", help="Redis URL (default: CVGUARD_REDIS_URL).")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: CVGUARD_DATABASE_URL or SQLite).")
    ] = None,
    group: Annotated[
        str, typer.Option(help="Consumer group shared by the workers (the API queues for the default).")
    ] = "cvguard-workers",
    name: Annotated[str | None, typer.Option(help="This consumer's name (default: host-pid).")] = None,
    batch: Annotated[int, typer.Option(min=1, help="Entries read (and written) at once.")] = 500,
    stream: Annotated[str, typer.Option(help="The event stream.")] = "cvguard:events",
    claim_idle_ms: Annotated[
        int, typer.Option(min=1, help="Claim another consumer's entries pending this long.")
    ] = 30_000,
    block_ms: Annotated[int, typer.Option(min=1, help="How long one read waits for entries.")] = 1000,
    lease_ms: Annotated[
        int, typer.Option(min=100, help="The behaviour leader's lease: how soon another worker takes over.")
    ] = 10_000,
    metrics_port: Annotated[
        int | None, typer.Option(min=0, max=65535, help="Serve Prometheus /metrics on this port.")
    ] = None,
) -> None:
    """Consume the Redis event stream until SIGTERM (the batch in hand is finished and acknowledged).

    Run any number of workers with one --group: each event is stored once, counted once in the
    shared behaviour windows, and a dead worker's pending events are claimed by another. One
    worker at a time (the lease holder) applies behaviour; another takes over within --lease-ms.
    """
    import os
    import signal
    import socket

    import redis
    from prometheus_client import CollectorRegistry, start_http_server

    from cvguard.metrics import (
        CountingScreening,
        PluginCollector,
        StatsCollector,
        StreamCollector,
        VerdictTally,
    )
    from cvguard.pipeline.actions import AlertActions, policy_of
    from cvguard.pipeline.mcn import McnDesk
    from cvguard.pipeline.protection import PeopleBook
    from cvguard.pipeline.redis_bus import RedisStreamBus
    from cvguard.pipeline.review import ReviewIntake
    from cvguard.pipeline.shared_state import SharedBehaviour
    from cvguard.pipeline.worker import FAULT_ENV, Worker
    from cvguard.store import EventStore
    from cvguard.store.actions import ActionFeed
    from cvguard.store.mcns import McnStore
    from cvguard.store.people import PeopleStore
    from cvguard.store.review import ReviewStore

    settings = get_settings()
    url = redis_url or settings.redis_url
    if not url:
        raise InputError("no Redis URL: pass --redis or set CVGUARD_REDIS_URL")
    long_running()
    _log_to_stderr(settings)
    client = redis.Redis.from_url(url)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise StoreError(f"Redis at {redact_url(url)} is unreachable ({type(exc).__name__}): start it, "
                         "or pass --redis / set CVGUARD_REDIS_URL") from None
    provide = plugged(settings)  # the built-in screener, or the cascade with the platform's model
    store = EventStore.open(db or settings.database_url)
    tally = VerdictTally()
    stack = ExitStack()
    review = ReviewStore(store.engine)  # alerts into the review queue; people's decisions kept
    try:
        feed = ActionFeed(store.engine)
        people = PeopleBook(PeopleStore(store.engine), extra_groups=settings.extra_key_groups)
        if settings.audit_automated:  # what cvguard does by itself, in the audit trail
            from cvguard.store.audit import AuditLog

            feed.audit = people.audit = AuditLog(store.engine)
        actions = AlertActions(feed, store, policy_of(settings), protection=people)
        actions.people_decided = review.person_decided
        w = Worker(
            bus=RedisStreamBus(client, stream=stream),
            behaviour=SharedBehaviour(client, lease_ms=lease_ms),
            store=store,
            screener=CountingScreening(provide(), tally),
            group=group,
            name=name or f"{socket.gethostname()}-{os.getpid()}",
            batch=batch,
            block_ms=block_ms,
            claim_idle_ms=claim_idle_ms,
            keep_text=settings.keep_text,
            text_retention_days=settings.text_retention_days,
            fault=os.environ.get(FAULT_ENV),
            max_skew_s=settings.max_clock_skew_s,
            actions=actions,
            mcn=McnDesk(McnStore(store.engine)),
            review=ReviewIntake(review),
        )
        signal.signal(signal.SIGTERM, w.stop)
        signal.signal(signal.SIGINT, w.stop)
        _stderr().print(f"worker {w.name}: consuming {stream} as {group}")
        if metrics_port is not None:
            registry = CollectorRegistry()
            registry.register(StatsCollector(lambda: w.stats, tally, aliases={"received": "entries"}))
            registry.register(StreamCollector(client, stream))
            if isinstance(provide, Plugged):
                registry.register(PluginCollector(provide.stats))
            server, _ = start_http_server(metrics_port, registry=registry)
            stack.callback(server.shutdown)
            log.info("worker %s: metrics on port %d", w.name, server.server_port)
        stats = w.run()
        typer.echo(json.dumps(stats.to_dict()))
    finally:
        stack.close()
        store.close()
        client.close()


# ---------------------------------------------------------------------------------- policy

policy_app = typer.Typer(
    cls=_Commands, no_args_is_help=True, help="Policies: validate a policy file, compare two on events."
)
app.add_typer(policy_app, name="policy")


@policy_app.command("validate")
def policy_validate(
    files: Annotated[list[Path], typer.Argument(help="Policy YAML files.", show_default=False)],
) -> None:
    """Check policy files: every problem as file:line with a hint; exit 0 when all are good, 2 if not."""
    from cvguard.policy import parse_policy

    _validate_files(files, parse_policy, lambda p: f"{p.name} {p.version}, {len(p.rules)} rules")


@policy_app.command("diff")
def policy_diff(
    events: Annotated[str, typer.Argument(help='Events, one JSON object a line ("-": stdin).')],
    candidate: Annotated[
        Path, typer.Option("--candidate", help="The candidate policy file.", show_default=False)
    ],
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="The active policy (default: CVGUARD_POLICY_FILE, else the default)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the diff as JSON.")] = False,
) -> None:
    """Replay EVENTS in memory (screening, behaviour, the offline clock rules; nothing is stored),
    deciding each event with the active policy and the candidate, and print by surface and action
    how many decisions would change, with examples. Exit 2 on a bad policy file or event line."""
    from cvguard.pipeline.policydiff import diff_replay
    from cvguard.policy import PolicyError, default_policy, format_diff, format_issue, load_policy

    settings = get_settings()
    active_file = policy if policy is not None else settings.policy_file
    try:
        active = load_policy(active_file) if active_file is not None else default_policy()
        compiled_candidate = load_policy(candidate)
    except PolicyError as exc:
        for issue in exc.issues:
            typer.echo(_printable(format_issue(issue)), err=True)
        raise typer.Exit(EXIT_INPUT) from None
    with ExitStack() as stack:
        src = _open_pair(stack, events, "-")[0]
        diff = diff_replay(src, active, compiled_candidate, settings=settings)
    typer.echo(json.dumps(diff.to_dict(), ensure_ascii=False) if as_json else format_diff(diff))


# ------------------------------------------------------------------------------------ keys

keys_app = typer.Typer(cls=_Commands, no_args_is_help=True, help="API keys: create, list, revoke.")
app.add_typer(keys_app, name="keys")
_DB_OPTION = typer.Option("--db", help="Database URL (default: CVGUARD_DATABASE_URL or SQLite).")


def _key_store(db: str | None) -> Any:
    from cvguard.store.keys import KeyStore

    return KeyStore.open(db or get_settings().database_url)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="platform, moderator, auditor or admin.", show_default=False)],
    name: Annotated[str, typer.Option(help="Who or what the key is for (default: the role).")] = "",
    expires_days: Annotated[
        float | None, typer.Option(min=0.0, help="Days until the key stops working (default: never).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="A platform key that acts for this one user only.", show_default=False)
    ] = None,
    db: Annotated[str | None, _DB_OPTION] = None,
) -> None:
    """Create an API key. It is printed once, alone on the last line; only its hash is stored."""
    from datetime import timedelta

    from cvguard.store.keys import parse_role

    checked = parse_role(role)  # a bad role fails before any database is touched
    if expires_days == 0:
        raise InputError("--expires-days must be more than 0")
    with _key_store(db) as keys:
        expires = timedelta(days=expires_days) if expires_days is not None else None
        issued = keys.create(role=checked, name=name, expires_in=expires, user_id=user)
    info = issued.info
    until = info.expires_at.isoformat(timespec="seconds") if info.expires_at else "never"
    scope = f", for user {info.user_id!r} only" if info.user_id else ""
    typer.echo(f"key {info.key_id} ({info.role}{scope}, {info.name!r}), expires: {until}; shown this once:")
    typer.echo(issued.key)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    db: Annotated[str | None, _DB_OPTION] = None,
) -> None:
    """Every key with its role and state (never a secret)."""
    from datetime import UTC, datetime

    with _key_store(db) as keys:
        listed = keys.list()
    now = datetime.now(UTC)

    def when(t: datetime | None) -> str:
        return t.isoformat(timespec="seconds") if t is not None else "-"

    def state(k: Any) -> str:
        return "revoked" if k.revoked_at else "expired" if not k.active(now) else "active"

    if as_json:
        for k in listed:
            row = {"key_id": k.key_id, "name": k.name, "role": k.role, "state": state(k)}
            row["user_id"] = k.user_id
            for f in ("created_at", "expires_at", "revoked_at", "last_used_at"):
                row[f] = getattr(k, f) and getattr(k, f).isoformat()
            typer.echo(json.dumps(row, ensure_ascii=False))
        return
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("id", "role", "name", "state", "created", "expires", "last used"):
        table.add_column(column)
    for k in listed:
        table.add_row(
            k.key_id, k.role, Text(_printable(k.name)), state(k), when(k.created_at), when(k.expires_at),
            when(k.last_used_at),
        )
    Console(highlight=False).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (`cvguard keys list`).")],
    db: Annotated[str | None, _DB_OPTION] = None,
) -> None:
    """Revoke a key: it stops working at once (its row stays, for the record)."""
    with _key_store(db) as keys:
        revoked = keys.revoke(key_id)
    typer.echo(f"revoked key {revoked.key_id} ({revoked.role}, {revoked.name!r})")


def _training() -> Any:
    try:
        return importlib.import_module("cvguard.detection.training")
    except ModuleNotFoundError as exc:
        if exc.name == "cvguard.detection.training":
            raise CvguardError("model training is not part of this build") from None
        raise CvguardError(f"training needs {exc.name!r}: install cvguard[train]") from None


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_shown(v)}" for k, v in value.items())
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in report.items():
        table.add_row(str(key), Text(_shown(value)))
    Console(highlight=False).print(table)


@app.command()
def purge(
    older_than_days: Annotated[
        float | None,
        typer.Option(min=0, help="Drop raw text of events older than this many days (default: "
                     "CVGUARD_TEXT_RETENTION_DAYS)."),
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: CVGUARD_DATABASE_URL or SQLite).")
    ] = None,
) -> None:
    """Drop the raw text of events that occurred more than N days ago (now, by the wall clock);
    each text's SHA-256 stays. The pipeline and workers also do this continuously, in event time."""
    from datetime import UTC, datetime, timedelta

    from cvguard.store import EventStore

    settings = get_settings()
    days = older_than_days if older_than_days is not None else settings.text_retention_days
    if days is None:
        raise InputError("no retention: pass --older-than-days or set CVGUARD_TEXT_RETENTION_DAYS")
    with EventStore.open(db or settings.database_url) as store:
        n = store.purge_text(datetime.now(UTC) - timedelta(days=days))
    typer.echo(f"dropped the raw text of {n} events older than {days:g} days")


@app.command()
def train(
    out: Annotated[Path | None, typer.Option(help="Where to write the model artifact.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Train the screening model and report how it did."""
    train_main = _training().train_main
    # progress goes to stderr so that stdout carries only the report (clean for --json)
    err = _stderr()
    extra = {"log": lambda m: err.print(Text(m))} if "log" in inspect.signature(train_main).parameters else {}
    _print_report(train_main(out, seed, **extra), as_json)


@app.command("eval")
def evaluate(
    data: Annotated[Path, typer.Option(help="Labelled JSONL to evaluate on.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Evaluate screening on a labelled data set."""
    _print_report(_training().eval_main(data), as_json)


# ------------------------------------------------------------------------------------ evidence

evidence_app = typer.Typer(
    cls=_Commands, no_args_is_help=True, help="Evidence: verify packages and the vault, export cases."
)
app.add_typer(evidence_app, name="evidence")


@evidence_app.command("verify")
def evidence_verify(
    package_file: Annotated[Path, typer.Argument(help="An evidence package (.zip).", show_default=False)],
    db: Annotated[
        str | None,
        typer.Option("--db", help="Also compare with the case in this vault (a database URL)."),
    ] = None,
) -> None:
    """Check an evidence package: every item's digest and the chain, each file against the
    manifest, the zip container itself. Exit 0 when intact, 2 naming the first thing altered."""
    from cvguard.evidence.package import verify

    try:
        data = package_file.read_bytes()
    except OSError as exc:
        raise InputError(f"{package_file}: {exc.strerror}") from None
    found = verify(data)
    if found.problem is None and db is not None:
        from cvguard.store.evidence import EvidenceVault

        with EvidenceVault.open(db) as vault:
            case = vault.case(found.case_id or "")
        if case is None:
            found = replace(found, problem=f"case {found.case_id} is not in this vault")
        elif case.summary.head != found.head:
            found = replace(found, problem=f"case {found.case_id}: the package's head is not the vault's")
    if found.problem is not None:
        raise InputError(f"{package_file}: {found.problem}")
    typer.echo(f"{package_file}: intact (case {found.case_id}, {found.count} items, head {found.head})")


@evidence_app.command("verify-vault")
def evidence_verify_vault(db: Annotated[str | None, _DB_OPTION] = None) -> None:
    """Check every stored case and item of the vault; exit 2 naming the first that was altered."""
    from cvguard.store.evidence import EvidenceVault

    with EvidenceVault.open(db or get_settings().database_url) as vault:
        found = vault.verify()
    if found.problem is not None:
        raise InputError(f"the vault does not verify: {found.problem}")
    typer.echo(f"vault intact: {found.cases} cases, {found.items} items, head {found.head}")


@evidence_app.command("export")
def evidence_export(
    case_id: Annotated[str, typer.Argument(help="The case id (ev_...).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Where the package (.zip) goes.")],
    db: Annotated[str | None, _DB_OPTION] = None,
) -> None:
    """Write a case's package (report.pdf, items.jsonl, case.json, manifest.json in one zip)."""
    from cvguard.evidence import package, pdf
    from cvguard.store.evidence import EvidenceVault

    with EvidenceVault.open(db or get_settings().database_url) as vault:
        case = vault.case(case_id)
    if case is None:
        raise InputError(f"there is no evidence case {case_id!r}")
    data = package.build(case.header, case.links, pdf.render(case.header, case.links))
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InputError(f"{out}: {exc.strerror}") from None
    typer.echo(f"{out}: case {case_id}, {len(case.links)} items, head {case.summary.head}")


# ------------------------------------------------------------------------------------ audit

audit_app = typer.Typer(
    cls=_Commands, no_args_is_help=True, help="The audit trail: verify its chain, export a period."
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(db: Annotated[str | None, _DB_OPTION] = None) -> None:
    """Walk the audit trail's chain; exit 0 when intact, 2 naming the first entry edited, removed or
    reordered."""
    from cvguard.store.audit import AuditLog

    with AuditLog.open(db or get_settings().database_url) as log:
        found = log.verify()
    if found.problem is not None:
        raise InputError(f"the audit trail does not verify: {found.problem}")
    typer.echo(f"audit trail intact: {found.entries} entries, head {found.head}")


# ------------------------------------------------------------------------------------ mcn

mcn_app = typer.Typer(cls=_Commands, no_args_is_help=True, help="MCN joint handling: validate thresholds.")
app.add_typer(mcn_app, name="mcn")


@mcn_app.command("validate")
def mcn_validate(
    files: Annotated[list[Path], typer.Argument(help="MCN thresholds YAML files.", show_default=False)],
) -> None:
    """Check MCN thresholds files: every problem as file:line with a hint; exit 0 when all are good,
    2 if not."""
    from cvguard.enforcement.mcn_thresholds import parse_thresholds

    _validate_files(files, parse_thresholds, lambda t: f"version {t.version}, {len(t.thresholds)} thresholds")
def _iso_time(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--{name} is not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        raise InputError(f"--{name} needs a time zone (e.g. {value}Z or {value}+00:00)")
    return parsed


@audit_app.command("export")
def audit_export(
    since: Annotated[str, typer.Option(help="Start of the period (ISO 8601 with zone, inclusive).",
                                       show_default=False)],
    until: Annotated[str, typer.Option(help="End of the period (ISO 8601 with zone, exclusive).",
                                       show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="A directory (made if needed) or a .zip file.",
                                      show_default=False)],
    db: Annotated[str | None, _DB_OPTION] = None,
) -> None:
    """Export the audit entries of an inspection period: audit.jsonl and manifest.json (digests)."""
    from cvguard.audit.export import MANIFEST, bundle, to_zip
    from cvguard.store.audit import AuditLog

    start, end = _iso_time(since, "since"), _iso_time(until, "until")
    with AuditLog.open(db or get_settings().database_url) as log:
        stored, prev = log.period(start, end)
    files = bundle(stored, since=start, until=end, exported_at=datetime.now(UTC), prev=prev)
    try:
        if out.suffix == ".zip":
            out.write_bytes(to_zip(files))
        else:
            out.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (out / name).write_bytes(data)
    except OSError as exc:
        raise InputError(f"{out}: {exc.strerror}") from None
    head = json.loads(files[MANIFEST])["head"]
    typer.echo(f"{out}: {len(stored)} audit entries, head {head}")


@audit_app.command("verify-export")
def audit_verify_export(
    path: Annotated[Path, typer.Argument(help="The export: its directory or its .zip.", show_default=False)],
) -> None:
    """Check an export: exit 0 when intact, 2 naming the first entry edited, missing or reordered."""
    from cvguard.audit.export import JSONL, MANIFEST, check_bundle, from_zip

    try:
        if path.is_dir():
            files = {name: (path / name).read_bytes() for name in (JSONL, MANIFEST)}
        else:
            files = from_zip(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    problem = check_bundle(files[JSONL], files[MANIFEST])
    if problem is not None:
        raise InputError(f"the audit export does not verify: {problem}")
    manifest = json.loads(files[MANIFEST])
    typer.echo(f"audit export intact: {manifest['count']} entries, head {manifest['head']}")


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        import cvguard

        typer.echo(cvguard.__version__)
        raise typer.Exit()


# ---------------------------------------------------------------------------------------- ladder

ladder_app = typer.Typer(
    cls=_Commands, no_args_is_help=True,
    help="The sanction ladder (enforcement/data/ladder.yaml): validate a ladder file.",
)
app.add_typer(ladder_app, name="ladder")


@ladder_app.command("validate")
def ladder_validate(
    files: Annotated[list[Path], typer.Argument(help="Ladder YAML files.", show_default=False)],
) -> None:
    """Check ladder files: every problem as file:line with a hint; exit 0 when all are good, 2 if not."""
    from cvguard.enforcement.ladder import parse_ladder

    _validate_files(files, parse_ladder, lambda lad: f"{lad.name} {lad.version}, {len(lad.steps)} steps")


def _validate_files(
    files: list[Path], parse: Callable[[str, str], tuple[T | None, list[Any]]], summary: Callable[[T], str]
) -> None:
    """The ``validate`` commands: each file's issues as file:line with a hint on stderr, or
    ``path: ok (summary)``; exit 2 when any file has an issue."""
    from cvguard.errors import format_issue
    from cvguard.policy.positions import parse_file

    bad = 0
    for path in files:
        found, issues = parse_file(path, parse)
        for issue in issues:
            typer.echo(_printable(format_issue(issue)), err=True)
        if issues or found is None:
            bad += 1
            continue
        typer.echo(f"{path}: ok ({summary(found)})")
    if bad:
        raise typer.Exit(EXIT_INPUT)


def main() -> None:
    """Console-script entry point."""
    app(prog_name="cvguard")

