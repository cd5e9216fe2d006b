"""Load flow files: safe YAML, the schema, then the graph checks — every problem at once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ValidationError

from ivr.flows.checks import check_flow
from ivr.flows.schema import STEP_MODELS, AllPartyConsent, Flow
from ivr.problems import InvalidConfig, Problem
from ivr.schema_errors import Describe, ModelAt, problems_from_validation
from ivr.yaml_source import Location, Source, read_yaml, read_yaml_file


def parse_flow(source: Source, known_pools: Iterable[str] | None = None) -> Flow:
    """Validate a read YAML source as a flow; raises :class:`InvalidConfig` with every problem."""
    try:
        flow = Flow.model_validate(source.data)
    except ValidationError as error:
        raise InvalidConfig(
            problems_from_validation(error, source, _describe(source), _model_at(source))
        ) from None
    problems = check_flow(flow, source, known_pools=known_pools)
    if problems:
        raise InvalidConfig(problems)
    return flow


def load_flow_text(text: str, path: str, known_pools: Iterable[str] | None = None) -> Flow:
    return parse_flow(read_yaml(text, path), known_pools)


def load_flow_file(path: str | Path, known_pools: Iterable[str] | None = None) -> Flow:
    return parse_flow(read_yaml_file(str(path)), known_pools)


def flow_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their ``*.yaml``/``*.yml`` files, sorted."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml")))
        else:
            files.append(path)
    return files


def load_flows(
    paths: Iterable[str | Path], known_pools: Iterable[str] | None = None
) -> dict[str, Flow]:
    """Load every flow under ``paths`` by name; raises with the problems of all files together."""
    pools = None if known_pools is None else list(known_pools)
    flows: dict[str, Flow] = {}
    origin: dict[str, str] = {}
    problems: list[Problem] = []
    for path in flow_files(paths):
        try:
            flow = load_flow_file(path, pools)
        except InvalidConfig as error:
            problems.extend(error.problems)
            continue
        if flow.flow in flows:
            problems.append(
                Problem(str(path), 1, f"flow '{flow.flow}' is also defined in {origin[flow.flow]}")
            )
            continue
        flows[flow.flow] = flow
        origin[flow.flow] = str(path)
    if problems:
        raise InvalidConfig(problems)
    return flows


def _describe(source: Source) -> Describe:
    def describe(location: Location) -> tuple[str, Location]:
        if len(location) >= 2 and location[0] == "steps" and isinstance(location[1], int):
            steps = source.data.get("steps") if isinstance(source.data, dict) else None
            step = steps[location[1]] if isinstance(steps, list) else None
            step_id = step.get("id") if isinstance(step, dict) else None
            label = f"step '{step_id}'" if isinstance(step_id, str) else f"step #{location[1] + 1}"
            return f"{label}: ", location[2:]
        return "", location

    return describe


def _model_at(source: Source) -> ModelAt:
    def model_at(location: Location) -> type[BaseModel] | None:
        if location == ():
            return Flow
        if len(location) == 2 and location[0] == "steps" and isinstance(location[1], int):
            steps = source.data.get("steps") if isinstance(source.data, dict) else None
            step = steps[location[1]] if isinstance(steps, list) else None
            kind = step.get("kind") if isinstance(step, dict) else None
            return STEP_MODELS.get(kind) if isinstance(kind, str) else None
        if len(location) == 3 and location[0] == "steps" and location[2] == "all_party":
            return AllPartyConsent
        return None

    return model_at
