"""The ``warmline`` command: serve, validate, schema, simulate."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from ivr.problems import InvalidConfig, Problem

if TYPE_CHECKING:
    from ivr.deployment import Setup


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
    from pydantic import ValidationError

    from ivr.config import Settings
    from ivr.logs import configure
    from ivr.redis_server import RedisUnavailable, redis_url
    from ivr.server.app import MissingSecret, create_app
    from scoring.errors import ModelUnavailable

    configure()
    overrides = {
        k: v for k, v in {"deployment": deployment, "host": host, "port": port}.items() if v
    }
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:  # e.g. WARMLINE_PORT=http
        _fail(f"invalid settings in the environment: {error}")
    setup = _load_setup(settings.deployment)
    try:
        with redis_url(settings.redis_url) as url:
            app = create_app(settings, setup, url)
            click.echo(
                f"warmline: serving {len(setup.deployment.numbers)} numbers on "
                f"http://{settings.host}:{settings.port} (public URL {settings.public_base})",
                err=True,
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
@click.option("--server", help="Base URL of a running server: play Twilio's side over HTTP.")
@click.option(
    "--script", type=click.Path(exists=True), help="Scripted call (YAML) instead of typing."
)
def simulate(
    deployment: str,
    to_number: str | None,
    from_number: str,
    server: str | None,
    script: str | None,
) -> None:
    """Place a call from the terminal: type digits or words; an empty line is silence."""
    from ivr.simulator.local import UnknownNumber
    from ivr.simulator.session import run_simulation

    setup = _load_setup(deployment)
    number = to_number or setup.deployment.numbers[0].number
    try:
        ok = run_simulation(setup, number, from_number, server=server, script=script)
    except InvalidConfig as error:  # the script file
        for problem in error.problems:
            click.echo(str(problem), err=True)
        _fail(f"{len(error.problems)} problem(s) in the script; no call placed.")
    except (OSError, ValueError, UnknownNumber) as error:
        _fail(str(error))
    sys.exit(0 if ok else 1)


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


def _fail(message: str) -> NoReturn:
    click.echo(f"warmline: {message}", err=True)
    sys.exit(1)
