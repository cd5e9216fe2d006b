"""The ``warmline`` command: serve, validate, schema, simulate, route, worker, jobs, models, train,
eval, and the records' db, sync, report, calls and billing.

Heavy imports (torch, whisper, the server) happen inside the commands that need them, so
``warmline validate`` and ``warmline jobs`` start fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from ivr.problems import InvalidConfig, Problem

if TYPE_CHECKING:
    from ivr.config import Settings
    from ivr.deployment import Setup
    from ivr.recordings.transcription import TranscriptClassifier
    from ivr.routing.eligibility import Usage
    from ivr.routing.officers import Officer

DEFAULT_WORKER_MODEL = "base.en"


@click.group()
def main() -> None:
    """Warmline: a self-hosted pay-per-call IVR for mortgage lead generation."""


@main.command()
@click.option(
    "--deployment", help="Deployment file (default: $WARMLINE_DEPLOYMENT or warmline.yaml)."
)
@click.option("--host", help="Interface to bind (default: $WARMLINE_HOST or 127.0.0.1).")
@click.option("--port", type=int, help="Port to bind (default: $WARMLINE_PORT or 8080).")
def serve(deployment: str | None, host: str | None, port: int | None) -> None:
    """Serve Twilio's voice webhooks for the deployment's tracking numbers."""
    from aiohttp import web

    from ivr.logs import configure
    from ivr.redis_server import RedisUnavailable, redis_url
    from ivr.server.app import MissingSecret, create_app
    from scoring.errors import ModelUnavailable

    overrides = {
        k: v for k, v in {"deployment": deployment, "host": host, "port": port}.items() if v
    }
    settings = _settings(overrides)
    configure(log_format=settings.log_format)
    setup = _load_setup(settings.deployment)
    try:
        with redis_url(settings.redis_url) as url:
            app = create_app(settings, setup, url)
            _announce(
                f"warmline: serving {len(setup.deployment.numbers)} numbers on "
                f"http://{settings.host}:{settings.port} (public URL {settings.public_base}); "
                f"records in {settings.records_url.render_as_string(hide_password=True)}",
                settings,
            )
            web.run_app(
                app,
                host=settings.host,
                port=settings.port,
                shutdown_timeout=settings.shutdown_grace_s,
                print=None,
                access_log=None,
            )
    except (MissingSecret, RedisUnavailable) as error:
        _fail(str(error))
    except ModelUnavailable as error:
        _fail(f"voice answers are configured (WARMLINE_WHISPER_MODEL) but {error}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print problems as a JSON list.")
def validate(paths: tuple[str, ...], as_json: bool) -> None:
    """Check flows and deployment files; print every problem as path:line: message."""
    targets = list(paths) or (["warmline.yaml"] if Path("warmline.yaml").exists() else ["flows"])
    problems: list[Problem] = []
    checked = 0
    for target in targets:
        if not Path(target).exists():
            problems.append(Problem(target, 0, "no such file or directory"))
            continue
        deployments, flows = _split(Path(target))
        for deployment in deployments:
            problems.extend(_check_deployment(deployment))
        if flows:
            problems.extend(_check_flows(flows))
        checked += len(deployments) + len(flows)
    problems = list(dict.fromkeys(problems))  # a flow named by two targets is reported once
    if as_json:
        click.echo(json.dumps([p.as_dict() for p in problems], indent=2))
    else:
        for problem in problems:
            click.echo(str(problem))
        if not problems:
            click.echo(f"ok: {checked} file(s) checked", err=True)
    sys.exit(1 if problems else 0)


@main.command()
def schema() -> None:
    """Print the JSON Schema of flow files (for editors)."""
    from ivr.flows import flow_json_schema

    click.echo(json.dumps(flow_json_schema(), indent=2))


@main.command()
@click.option("--deployment", default="warmline.yaml", show_default=True)
@click.option("--number", "to_number", help="Tracking number to call (default: the first).")
@click.option("--from", "from_number", default="+15125550123", show_default=True)
@click.option(
    "--from-state",
    help="The caller's state as Twilio reports it (FromState), e.g. CA for an all-party-consent "
    "state; default: the script's, else TX.",
)
@click.option("--server", help="Base URL of a running server: play Twilio's side over HTTP.")
@click.option(
    "--script", type=click.Path(exists=True), help="Scripted call (YAML) instead of typing."
)
def simulate(
    deployment: str,
    to_number: str | None,
    from_number: str,
    from_state: str | None,
    server: str | None,
    script: str | None,
) -> None:
    """Place a call from the terminal: type digits or words; an empty line is silence."""
    from ivr.simulator.local import UnknownNumber
    from ivr.simulator.session import run_simulation

    setup = _load_setup(deployment)
    number = to_number or setup.deployment.numbers[0].number
    try:
        ok = run_simulation(
            setup, number, from_number, server=server, script=script, from_state=from_state
        )
    except InvalidConfig as error:  # the script file
        for problem in error.problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(error.problems)} problem(s) in the script; no call placed.")
    except (OSError, ValueError, UnknownNumber) as error:
        _fail(str(error))
    sys.exit(0 if ok else 1)


@main.command()
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    help="Jobs in hand at once (default: $WARMLINE_WORKER_CONCURRENCY or 1).",
)
@click.option("--consumer", help="Consumer name, unique per process (default: host-pid-random).")
@click.option(
    "--model",
    help=f"Whisper model name or checkpoint path (default: $WARMLINE_WHISPER_MODEL or "
    f"{DEFAULT_WORKER_MODEL}).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve Prometheus metrics on this port (default: $WARMLINE_WORKER_METRICS_PORT; "
    "unset: not served).",
)
def worker(
    concurrency: int | None, consumer: str | None, model: str | None, metrics_port: int | None
) -> None:
    """Drain the recordings queue: fetch, store and transcribe full call recordings.

    Runs until SIGTERM or SIGINT, then finishes the jobs in hand. Start as many as you like, on
    as many machines: they share the queue through Redis.
    """
    import asyncio

    from ivr.logs import configure
    from ivr.recordings.transcription import (
        MediaCredentialsMissing,
        media_credentials,
        run_recordings_worker,
    )
    from ivr.redis_server import RedisUnavailable, redis_url

    overrides = {} if metrics_port is None else {"worker_metrics_port": metrics_port}
    settings = _settings(overrides)
    configure(log_format=settings.log_format)
    try:
        media_credentials(settings)
    except MediaCredentialsMissing as error:
        _fail(str(error))
    name = model or settings.whisper_model or DEFAULT_WORKER_MODEL
    _announce(f"warmline: loading Whisper {name}", settings)
    from scoring.transcriber import Transcriber  # torch and whisper: only this command
    from scoring.whisper_model import WhisperLoadError

    try:
        transcriber = Transcriber.load(name, threads=settings.whisper_threads)
    except (WhisperLoadError, ValueError) as error:  # ValueError: e.g. a thread count of 0
        _fail(f"cannot start the worker: {error}")
    classifier = _transcript_classifier(settings)
    try:
        with redis_url(settings.redis_url) as url:
            _announce(
                f"warmline: worker on {_redacted(url)} (recordings in {settings.recordings_dir}/)",
                settings,
            )
            asyncio.run(
                run_recordings_worker(
                    settings,
                    url,
                    transcriber,
                    transcriber.loaded.source,
                    consumer=consumer,
                    concurrency=concurrency,
                    classifier=classifier,
                )
            )
    except RedisUnavailable as error:
        _fail(str(error))


def _transcript_classifier(settings: Settings) -> TranscriptClassifier | None:
    """The intent model for scoring whole calls after they end, when one has been trained."""
    model_dir = settings.intent_model
    if not model_dir or not Path(model_dir).is_dir():
        _announce("warmline: no intent model: transcripts are not scored", settings)
        return None
    from scoring.errors import ModelUnavailable
    from scoring.intent.classifier import IntentClassifier

    try:
        return IntentClassifier.load(model_dir)
    except ModelUnavailable as error:
        _fail(f"cannot start the worker: {error}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as a JSON object.")
@click.option(
    "--queue",
    type=click.Choice(["recordings", "records", "webhooks"]),
    default="recordings",
    show_default=True,
    help="recordings: the workers' transcription jobs; records: the journal the servers' "
    "recorders write to the database; webhooks: the deliveries of `warmline deliver`.",
)
def jobs(as_json: bool, queue: str) -> None:
    """Show a queue: depth, pending, delayed, dead, consumers."""
    import asyncio

    from redis.exceptions import RedisError

    from ivr.jobs.runner import job_stats
    from ivr.recordings.transcription import recording_stats
    from ivr.records.journal import RECORDS_GROUP, RECORDS_STREAM
    from ivr.redis_server import DEFAULT_HOST, DEFAULT_PORT

    url = _shared_redis_url()
    if url is None:
        _fail(
            f"no Redis is listening on {DEFAULT_HOST}:{DEFAULT_PORT}; set WARMLINE_REDIS_URL "
            "to the Redis your servers and workers use"
        )
    try:
        if queue == "records":
            stats = asyncio.run(job_stats(url, RECORDS_STREAM, RECORDS_GROUP))
        elif queue == "webhooks":
            from ivr.hooks.delivery import WEBHOOKS_GROUP, WEBHOOKS_STREAM

            stats = asyncio.run(job_stats(url, WEBHOOKS_STREAM, WEBHOOKS_GROUP))
        else:
            stats = asyncio.run(recording_stats(url))
    except (RedisError, OSError) as error:
        _fail(f"cannot read the queue from {_redacted(url)}: {error}")
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    columns = ["stream", "group", "depth", "pending", "delayed", "dead", "consumers", "transcribed"]
    columns = [column for column in columns if column in stats]
    widths = [max(len(c), len(str(stats[c]))) for c in columns]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    cells = [str(stats[c]) for c in columns]
    click.echo(
        "  ".join(
            cell.ljust(w) if isinstance(stats[c], str) else cell.rjust(w)
            for c, cell, w in zip(columns, cells, widths, strict=True)
        ).rstrip()
    )
    if int(stats["dead"]):
        click.echo(
            f"dead letters: redis-cli XRANGE '{{{stats['stream']}}}:dead' - +  (see docs/jobs.md)",
            err=True,
        )


def _answer(parser_name: str) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A callback that accepts one of the answer parser's values (state codes in any case)."""

    def check(_ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        from ivr.answers import get_parser

        parser = get_parser(parser_name)
        known = sorted(parser.values or ())
        for candidate in (value, value.upper(), value.lower()):
            if candidate in known:
                return candidate
        guess = parser.from_speech(value)
        hint = f" (did you mean '{guess}'?)" if guess else f" (one of: {', '.join(known)})"
        raise click.BadParameter(f"'{value}' is not a value of the {parser_name} answer{hint}")

    return check


@main.command()
@click.option("--explain", is_flag=True, help="Show every officer, eligible or why not.")
@click.option("--deployment", default="warmline.yaml", show_default=True)
@click.option("--number", "to_number", help="Tracking number called: its campaign's pool.")
@click.option("--campaign", help="Campaign: the pool its flow transfers to.")
@click.option("--pool", "pool_id", help="Pool, by id.")
@click.option("--loan-type", callback=_answer("loan_type"), help="e.g. refinance, heloc.")
@click.option("--state", callback=_answer("us_state"), help="The property's state, e.g. TX.")
@click.option("--credit-band", callback=_answer("credit_band"), help="excellent … poor.")
@click.option("--score", type=click.IntRange(0, 100), help="The qualification score.")
@click.option("--at", "at_text", help="When, ISO 8601 with an offset (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
def route(
    explain: bool,
    deployment: str,
    to_number: str | None,
    campaign: str | None,
    pool_id: str | None,
    loan_type: str | None,
    state: str | None,
    credit_band: str | None,
    score: int | None,
    at_text: str | None,
    as_json: bool,
) -> None:
    """Which officers could take a call with these answers now, and who would get it."""
    from datetime import UTC, datetime

    from ivr.routing.eligibility import CallAttributes
    from ivr.routing.explain import explain as explain_pool
    from ivr.routing.explain import explanation_json, explanation_text

    if not explain:
        _fail("say --explain: routing itself happens on calls (see docs/routing.md)")
    now = datetime.now(UTC)
    if at_text is not None:
        try:
            now = datetime.fromisoformat(at_text)
        except ValueError:
            _fail(f"--at '{at_text}' is not an ISO 8601 time, e.g. 2026-11-23T14:00:00-06:00")
        if now.tzinfo is None:
            _fail(f"--at '{at_text}' needs a UTC offset, e.g. -06:00 or Z")
    setup = _load_setup(deployment)
    pool = setup.pool(_route_pool(setup, to_number, campaign, pool_id))
    call = CallAttributes(loan_type, state, credit_band, score)
    officers = setup.pool_officers(pool)
    usage, note = _read_usage(officers, now.timestamp())
    result = explain_pool(
        pool.id, pool.strategy, pool.fallback_number, officers, call, now, usage=usage
    )
    if as_json:
        click.echo(json.dumps(explanation_json(result, note), indent=2))
    else:
        click.echo(explanation_text(result, note))


def _read_usage(officers: Sequence[Officer], now: float) -> tuple[Mapping[str, Usage], str]:
    """The officers' live counts from the servers' Redis, when one is reachable."""
    import asyncio

    from redis.asyncio import Redis
    from redis.exceptions import RedisError

    from ivr.routing.explain import USAGE_NOT_READ
    from ivr.routing.usage import UsageBook

    url = _shared_redis_url()
    if url is None:
        return {}, USAGE_NOT_READ

    async def read() -> Mapping[str, Usage]:
        redis = Redis.from_url(url, socket_connect_timeout=1)
        try:
            return await UsageBook(redis).usage(officers, now)
        finally:
            await redis.aclose()

    try:
        return asyncio.run(read()), f"usage: live counts from {_redacted(url)}"
    except (RedisError, OSError):
        return {}, USAGE_NOT_READ


def _route_pool(
    setup: Setup, to_number: str | None, campaign_id: str | None, pool_id: str | None
) -> str:
    """The pool to explain: named, or the one the number's (or campaign's) flow transfers to."""
    from ivr.deployment import transfer_pools

    pools = [p.id for p in setup.deployment.pools]
    if pool_id is not None:
        if pool_id not in pools:
            _fail(f"unknown pool '{pool_id}'{_did_you_mean(pool_id, pools)}")
        return pool_id
    if to_number is not None:
        number = setup.number(to_number)
        if number is None:
            numbers = ", ".join(n.number for n in setup.deployment.numbers)
            _fail(f"unknown tracking number '{to_number}' (known: {numbers})")
        campaign_id = number.campaign
    if campaign_id is None:
        if len(pools) == 1:
            return pools[0]
        _fail("say which pool: --number, --campaign or --pool")
    campaigns = [c.id for c in setup.deployment.campaigns]
    if campaign_id not in campaigns:
        _fail(f"unknown campaign '{campaign_id}'{_did_you_mean(campaign_id, campaigns)}")
    found = sorted(transfer_pools(setup.flows[setup.campaign(campaign_id).flow]))
    if len(found) != 1:
        _fail(
            f"campaign '{campaign_id}' transfers to {len(found)} pools "
            f"({', '.join(found) or 'none'}): name one with --pool"
        )
    return found[0]


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@main.group()
def models() -> None:
    """Model weights: fetched once per machine, never downloaded behind your back."""


@models.group()
def fetch() -> None:
    """Download model weights."""


@fetch.command("whisper")
@click.argument("name")
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    help="Folder to save into (default: $WARMLINE_WHISPER_ROOT or models/whisper).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=20.0,
    show_default=True,
    help="Seconds to wait for the download server to answer (connect, and each read).",
)
def fetch_whisper_command(name: str, root: str | None, timeout: float) -> None:
    """Download the official Whisper checkpoint NAME (tiny.en, base.en, …), SHA-256 checked."""
    import socket

    from scoring.models import (
        ModelFetchError,
        fetch_command,
        fetch_whisper,
        whisper_checkpoint_file,
    )

    try:
        target = whisper_checkpoint_file(name, root)
    except ValueError as error:
        _fail(str(error))
    if not target.is_file():  # present: fetch_whisper only checks its SHA-256, offline
        url = _whisper_url(name)
        if problem := _unreachable(url, timeout):
            _fail(
                f"could not download Whisper {name!r} from {url}: {problem}. On a machine "
                f"without internet access, copy {target.name} (fetched elsewhere with "
                f"`{fetch_command(name)}`) into {target.parent}/"
            )
    socket.setdefaulttimeout(timeout)  # whisper's downloader sets none: a stalled read ends
    try:
        path = fetch_whisper(name, root)
    except ModelFetchError as error:
        _fail(str(error))
    click.echo(str(path))


def _whisper_url(name: str) -> str:
    import whisper

    return str(whisper._MODELS[name])


def _unreachable(url: str, timeout_s: float) -> str | None:
    """Why no connection to ``url``'s host (or the proxy urllib would use) opens within
    ``timeout_s`` — name resolution included, which no socket timeout bounds — or None."""
    import socket
    import threading
    import urllib.parse
    import urllib.request

    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxied = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxied.hostname or "", proxied.port or 80
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout_s).close()
            outcome.append(None)
        except OSError as error:
            outcome.append(f"cannot connect to {host}:{port} ({error})")

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout_s)
    if not outcome:
        return f"no answer from {host}:{port} within {timeout_s:g} s"
    return outcome[0]


def _announce(message: str, settings: Settings) -> None:
    """A start-up line for people: on stderr, or as a log record when logs are JSON (so every
    line the process writes parses)."""
    if settings.log_format == "json":
        import logging

        logging.getLogger("ivr.cli").info(message)
    else:
        click.echo(message, err=True)


def _settings(overrides: Mapping[str, Any]) -> Settings:
    from pydantic import ValidationError

    from ivr.config import Settings

    try:
        return Settings(**overrides)
    except ValidationError as error:  # e.g. WARMLINE_PORT=http
        _fail(f"invalid settings in the environment: {error}")


def _shared_redis_url() -> str | None:
    """The Redis the servers use: configured, or the default port when something listens."""
    from ivr.redis_server import reachable_url

    return reachable_url(_settings({}).redis_url)


def _redacted(url: str) -> str:
    """A URL (Redis, the records database) without its password, for messages."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (
        f":{parts.port}" if parts.port else ""
    )
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _load_setup(path: str) -> Setup:
    from ivr.deployment import load_setup

    try:
        return load_setup(path)
    except InvalidConfig as error:
        for problem in error.problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(error.problems)} problem(s) in the deployment; not starting.")


def _split(path: Path) -> tuple[list[Path], list[Path]]:
    """A target's deployment files and flow files (a directory may hold both)."""
    from ivr.deployment import is_deployment_data
    from ivr.flows.loader import flow_files
    from ivr.yaml_source import read_yaml_file

    deployments: list[Path] = []
    flows: list[Path] = []
    for file in flow_files([path]):
        try:
            data = read_yaml_file(str(file)).data
        except InvalidConfig:
            data = None  # unreadable: the flow loader reports why
        (deployments if is_deployment_data(data) else flows).append(file)
    return deployments, flows


def _check_deployment(path: Path) -> list[Problem]:
    from ivr.deployment import load_setup

    try:
        load_setup(path)
    except InvalidConfig as error:
        return error.problems
    return []


def _check_flows(paths: list[Path]) -> list[Problem]:
    """Flows are loaded together, so two files defining one flow name are caught."""
    from ivr.flows import load_flows

    try:
        load_flows(paths)
    except InvalidConfig as error:
        return error.problems
    return []


def _register_model_commands() -> None:
    """Training and evaluation live with the models (their imports stay inside each command)."""
    from scoring.intent.commands import data, evaluate, train

    for group in (train, evaluate, data):
        main.add_command(group)


_register_model_commands()


def _register_record_commands() -> None:
    """The records (``db``, ``sync``, ``report``, ``calls``, ``billing``) live with them."""
    from ivr.records.commands import billing, calls_group, db, report, sync

    for command in (db, sync, report, calls_group, billing):
        main.add_command(command)


_register_record_commands()


def _register_hook_commands() -> None:
    """Outbound webhooks (``deliver``, ``webhooks``) live with them (``ivr.hooks``)."""
    from ivr.hooks.commands import deliver, webhooks

    main.add_command(deliver)
    main.add_command(webhooks)


_register_hook_commands()


def _register_web_commands() -> None:
    """Web accounts (``users``) live with the web pages."""
    from ivr.web.commands import users

    main.add_command(users)


_register_web_commands()


def _register_export_commands() -> None:
    """``export labels`` lives with the QA verdicts it exports (``ivr.web.labels``)."""
    from ivr.web.labels import export

    main.add_command(export)


_register_export_commands()


def _fail(message: str) -> NoReturn:
    click.echo(f"warmline: {message}", err=True)
    sys.exit(1)
