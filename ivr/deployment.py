"""The deployment file (``warmline.yaml``): numbers, campaigns, publishers, officers, pools, flows.

It is read with the same safe YAML loader as flows and reports problems the same way, so a
typo in a phone number or a campaign name is found by ``warmline validate`` or at start-up, never
during a call. Loading it also loads and cross-checks every flow it names.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from ivr.answers import get_parser, suggest_value
from ivr.compliance.blocklist import Blocklist, BlocklistError
from ivr.engine.events import CallContext
from ivr.engine.state import VisitAttribution
from ivr.fields import E164, Money, Name, Strict
from ivr.flows.loader import load_flows
from ivr.flows.schema import Flow, TransferStep
from ivr.hooks.config import WebhookEndpoint
from ivr.problems import InvalidConfig, Problem
from ivr.routing.officers import Caps, Officer, Strategy
from ivr.schema_errors import Describe, problems_from_validation
from ivr.yaml_source import Location, Source, read_yaml_file
from scoring.qualification import QualificationRules


class Publisher(Strict):
    """A traffic source that is paid per qualified call it sends."""

    id: Name
    name: str


class DuplicatePolicy(Strict):
    """Repeat callers: flagged inside a window, never billed twice, and routed or not."""

    window_h: Annotated[int, Field(ge=0)] = Field(
        default=0, description="Hours after a call in which the same caller is a repeat (0: off)."
    )
    across_campaigns: bool = Field(
        default=False, description="Also a repeat after a call to any campaign that says so."
    )
    route: bool = Field(
        default=True,
        description="Route repeat callers (flagged, not billed again) or give them the flow's "
        "fallback; also decides whether an officer's own window skips them.",
    )


Origin = Annotated[str, Field(pattern=r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$", max_length=253)]
"""A web page's origin as browsers send it: scheme, lower-case host, optional port, no path."""


class WebPool(Strict):
    """Dynamic number insertion: the campaign's numbers marked ``web_pool`` are leased, one per
    web visit, to the publishers' pages at ``origins`` (see docs/attribution.md)."""

    default_number: E164 = Field(
        description="Shown when every pool number is on lease: one of the campaign's numbers "
        "outside the pool (its calls are attributed to the campaign alone)."
    )
    lease_minutes: Annotated[int, Field(ge=1, le=1440)] = Field(
        default=30, description="How long a visit keeps its number after it last asked."
    )
    asks_per_address: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=60,
        description="Lease requests one client address may make in 10 minutes; past that it is "
        "shown the default number, so a script cannot drain the pool.",
    )
    origins: Annotated[list[Origin], Field(min_length=1, max_length=100)] = Field(
        description="The publisher pages (scheme://host[:port]) allowed to ask for numbers."
    )


class Campaign(Strict):
    """What is being bought: a flow, and the loan types and states the buyers serve."""

    id: Name
    name: str
    flow: Name
    loan_types: Annotated[list[str], Field(min_length=1)]
    states: Annotated[list[str], Field(min_length=1)]
    fallback_number: E164 | None = Field(
        default=None, description="Where callers go when the system itself is in trouble."
    )
    scoring: QualificationRules | None = Field(
        default=None,
        description="How score steps weigh intent and answers for this campaign; unset: the "
        "defaults (see docs/qualification.md).",
    )
    duplicates: DuplicatePolicy = Field(default_factory=DuplicatePolicy)
    web_pool: WebPool | None = Field(
        default=None, description="Numbers leased to web visits (dynamic number insertion)."
    )


class Pool(Strict):
    """Officers who take a campaign's transfers and how one is picked for each call."""

    id: Name
    officers: list[Name] = Field(default_factory=list)
    strategy: Strategy = "waterfall"
    fallback_number: E164 | None = Field(
        default=None,
        description="An overflow line (a call centre) tried, screened like an officer, when no "
        "officer can take the call; after it, the flow's fallback.",
    )
    ping_deadline_ms: Annotated[int, Field(ge=50, le=5000)] = Field(
        default=400, description="How long ping-post waits for bids before it picks."
    )


class TrackingNumber(Strict):
    """An inbound number: calls to it belong to one campaign and one publisher."""

    number: E164
    campaign: Name
    publisher: Name
    payout: Money = Decimal("0")
    web_pool: bool = Field(
        default=False,
        description="Leased to web visits by its campaign's web_pool (dynamic number insertion).",
    )


class Deployment(Strict):
    flows: str = "flows"
    publishers: Annotated[list[Publisher], Field(min_length=1)]
    campaigns: Annotated[list[Campaign], Field(min_length=1)]
    officers: list[Officer] = Field(default_factory=list)
    pools: list[Pool] = Field(default_factory=list)
    numbers: Annotated[list[TrackingNumber], Field(min_length=1)]
    blocklist: list[str] = Field(
        default_factory=list,
        description="Do-not-call files (one number per line) next to this file, checked at "
        "call start and reloaded when they change.",
    )
    webhooks: list[WebhookEndpoint] = Field(
        default_factory=list,
        description="Officers' and campaigns' endpoints for signed call events (see "
        "docs/integrations.md); secrets come from the environment, never this file.",
    )


@dataclass(frozen=True)
class Setup:
    """A validated deployment with its flows, indexed for the call path."""

    path: str
    deployment: Deployment
    flows: dict[str, Flow]

    def number(self, dialled: str) -> TrackingNumber | None:
        return next((n for n in self.deployment.numbers if n.number == dialled), None)

    def campaign(self, campaign_id: str) -> Campaign:
        return next(c for c in self.deployment.campaigns if c.id == campaign_id)

    def pool(self, pool_id: str) -> Pool:
        return next(p for p in self.deployment.pools if p.id == pool_id)

    def web_pool_numbers(self, campaign_id: str) -> list[str]:
        """The campaign's numbers leased to web visits, in the file's order."""
        numbers = self.deployment.numbers
        return [n.number for n in numbers if n.campaign == campaign_id and n.web_pool]

    @property
    def blocklist_paths(self) -> list[Path]:
        folder = Path(self.path).resolve().parent
        return [folder / name for name in self.deployment.blocklist]

    def pool_officers(self, pool: Pool) -> list[Officer]:
        """The pool's officers in its listed order (ids were checked at load)."""
        by_id = {o.id: o for o in self.deployment.officers}
        return [by_id[officer_id] for officer_id in pool.officers]

    def call_context(
        self,
        number: TrackingNumber,
        caller: str,
        caller_state: str | None = None,
        *,
        voice: bool = False,
        repeat: bool = False,
        attribution: VisitAttribution | None = None,
    ) -> CallContext:
        """What the engine knows about a call to ``number``: its source and what it can buy."""
        campaign = self.campaign(number.campaign)
        return CallContext(
            caller=caller,
            called=number.number,
            campaign=campaign.id,
            publisher=number.publisher,
            caller_state=caller_state,
            campaign_lists={
                "loan_types": tuple(campaign.loan_types),
                "states": tuple(campaign.states),
            },
            voice=voice,
            scoring=campaign.scoring,
            repeat=repeat,
            attribution=attribution,
        )


def load_setup(path: str | Path) -> Setup:
    """Load the deployment file and its flows; raises :class:`InvalidConfig` with all problems.

    The flows are loaded even when the deployment itself is invalid, so that one run reports
    the problems of both.
    """
    source = read_yaml_file(str(path))
    if not isinstance(source.data, dict):
        raise InvalidConfig([source.problem((), _NOT_A_MAPPING)])
    try:
        deployment = Deployment.model_validate(source.data)
    except ValidationError as error:
        problems = problems_from_validation(error, source, _describe(source), _model_at)
        flows_name = source.data.get("flows", "flows")
        if isinstance(flows_name, str):
            _load_flows(path, flows_name, _raw_pool_ids(source.data), source, problems)
        raise InvalidConfig(problems) from None
    problems = _cross_check(deployment, source)
    problems += _check_blocklist(Path(path), deployment, source)
    pools = [p.id for p in deployment.pools]
    flows = _load_flows(path, deployment.flows, pools, source, problems)
    if flows is not None:
        for index, campaign in enumerate(deployment.campaigns):
            if campaign.flow not in flows:
                problems.append(
                    _unknown(source, ("campaigns", index, "flow"), "flow", campaign.flow, flows)
                )
    if problems or flows is None:  # no flows means a problem was added
        raise InvalidConfig(problems)
    return Setup(str(path), deployment, flows)


_CAMPAIGN_LISTS = (("loan_types", "loan type", "loan_type"), ("states", "state", "us_state"))
"""A campaign's lists, the word for one item, and the slot parser whose values they must be."""

_NOT_A_MAPPING = (
    "a deployment file is a mapping of sections: flows, publishers, campaigns, officers, pools, "
    "numbers"
)
_SECTION_MODELS: dict[str, type[BaseModel]] = {
    "publishers": Publisher,
    "campaigns": Campaign,
    "officers": Officer,
    "pools": Pool,
    "numbers": TrackingNumber,
    "webhooks": WebhookEndpoint,
}


def _load_flows(
    path: str | Path,
    flows_name: str,
    pools: list[str] | None,
    source: Source,
    problems: list[Problem],
) -> dict[str, Flow] | None:
    """The flows in the deployment's flows directory, or None (with problems added)."""
    flows_dir = Path(path).parent / flows_name
    if not flows_dir.is_dir():
        message = f"flows: '{flows_name}' is not a directory next to this file"
        problems.append(source.problem(("flows",), message))
        return None
    try:
        return load_flows([flows_dir], known_pools=pools)
    except InvalidConfig as error:
        problems.extend(error.problems)
        return None


def _check_blocklist(path: Path, deployment: Deployment, source: Source) -> list[Problem]:
    """Every do-not-call file loads: a server never starts with half a blocklist."""
    folder = path.resolve().parent
    try:
        Blocklist.load([folder / name for name in deployment.blocklist])
    except BlocklistError as error:
        return [source.problem(("blocklist",), problem) for problem in error.problems]
    return []


def _raw_pool_ids(data: dict[str, Any]) -> list[str] | None:
    """Pool ids of a deployment that failed validation; None (no pool check) when unclear."""
    pools = data.get("pools")
    if not isinstance(pools, list):  # absent here is likely a misspelt 'pools': don't cascade
        return None
    return [p["id"] for p in pools if isinstance(p, dict) and isinstance(p.get("id"), str)]


def is_deployment_data(data: object) -> bool:
    """Whether a YAML document looks like a deployment file rather than a flow."""
    return (
        isinstance(data, dict)
        and not {"flow", "steps"} & set(data)
        and bool(set(Deployment.model_fields) & set(data))
    )


def transfer_pools(flow: Flow) -> set[str]:
    return {s.pool for s in flow.steps if isinstance(s, TransferStep)}


def _cross_check(deployment: Deployment, source: Source) -> list[Problem]:
    problems: list[Problem] = []
    problems += _duplicates(source, "publishers", [p.id for p in deployment.publishers], "id")
    problems += _duplicates(source, "campaigns", [c.id for c in deployment.campaigns], "id")
    problems += _duplicates(source, "officers", [o.id for o in deployment.officers], "id")
    problems += _duplicates(source, "pools", [p.id for p in deployment.pools], "id")
    problems += _duplicates(source, "numbers", [n.number for n in deployment.numbers], "number")
    for index, campaign in enumerate(deployment.campaigns):
        for field, what, parser_name in _CAMPAIGN_LISTS:
            for position, value in enumerate(getattr(campaign, field)):
                where: Location = ("campaigns", index, field, position)
                if problem := _known_value(source, where, what, parser_name, value):
                    problems.append(problem)
    problems += _check_officers(deployment, source)
    problems += _check_pools(deployment, source)
    problems += _check_webhooks(deployment, source)
    problems += _check_web_pools(deployment, source)
    campaigns = [c.id for c in deployment.campaigns]
    publishers = [p.id for p in deployment.publishers]
    for index, number in enumerate(deployment.numbers):
        if number.campaign not in campaigns:
            location = ("numbers", index, "campaign")
            problems.append(_unknown(source, location, "campaign", number.campaign, campaigns))
        if number.publisher not in publishers:
            location = ("numbers", index, "publisher")
            problems.append(_unknown(source, location, "publisher", number.publisher, publishers))
    return problems


def _known_value(
    source: Source, location: Location, what: str, parser_name: str, value: str
) -> Problem | None:
    """A problem when ``value`` is not one of the parser's values (what a caller saying it
    would mean is the did-you-mean: 'Texas' → TX, 'refi' → refinance)."""
    known = sorted(get_parser(parser_name).values or ())
    if value in known:
        return None
    return _unknown(source, location, what, value, known, suggest_value(parser_name, value))


def _check_officers(deployment: Deployment, source: Source) -> list[Problem]:
    found: list[Problem | None] = []
    for index, officer in enumerate(deployment.officers):
        for position, loan_type in enumerate(officer.loan_types):
            where: Location = ("officers", index, "loan_types", position)
            found.append(_known_value(source, where, "loan type", "loan_type", loan_type))
        for state in officer.licences:
            where = ("officers", index, "licences", state)
            found.append(_known_value(source, where, "licence state", "us_state", state))
    return [p for p in found if p is not None]


def _check_pools(deployment: Deployment, source: Source) -> list[Problem]:
    """Every officer a pool names exists, once; ping-post needs somewhere to ping."""
    officers = {o.id: o for o in deployment.officers}
    problems: list[Problem] = []
    for index, pool in enumerate(deployment.pools):
        seen: set[str] = set()
        for position, officer_id in enumerate(pool.officers):
            where: Location = ("pools", index, "officers", position)
            officer = officers.get(officer_id)
            if officer is None:
                problems.append(_unknown(source, where, "officer", officer_id, officers))
            elif officer_id in seen:
                message = f"pools[{index}]: officer '{officer_id}' is listed twice"
                problems.append(source.problem(where, message))
            elif pool.strategy == "ping_post" and officer.ping_url is None:
                message = (
                    f"pools[{index}]: strategy ping_post needs a ping_url for officer "
                    f"'{officer_id}'"
                )
                problems.append(source.problem(where, message))
            seen.add(officer_id)
    return problems


def _check_web_pools(deployment: Deployment, source: Source) -> list[Problem]:
    """Pool numbers belong to a campaign with a web pool; its default number is one of its own
    numbers outside the pool (a call to it must reach the campaign)."""
    problems: list[Problem] = []
    campaigns = {c.id: c for c in deployment.campaigns}
    for index, number in enumerate(deployment.numbers):
        campaign = campaigns.get(number.campaign)
        if number.web_pool and campaign is not None and campaign.web_pool is None:
            message = (
                f"numbers[{index}]: web_pool number, but campaign '{number.campaign}' has no "
                "web_pool settings"
            )
            problems.append(source.problem(("numbers", index, "web_pool"), message))
    for index, campaign in enumerate(deployment.campaigns):
        if campaign.web_pool is None:
            continue
        default = campaign.web_pool.default_number
        own = [n for n in deployment.numbers if n.number == default]
        where: Location = ("campaigns", index, "web_pool", "default_number")
        if not own or own[0].campaign != campaign.id or own[0].web_pool:
            message = (
                f"campaigns[{index}]: web_pool default_number {default} must be a number of "
                f"campaign '{campaign.id}' outside its web pool"
            )
            problems.append(source.problem(where, message))
    return problems


def _check_webhooks(deployment: Deployment, source: Source) -> list[Problem]:
    """Endpoint ids are unique and each names an officer or campaign of this deployment."""
    problems = _duplicates(source, "webhooks", [w.id for w in deployment.webhooks], "id")
    officers = [o.id for o in deployment.officers]
    campaigns = [c.id for c in deployment.campaigns]
    for index, hook in enumerate(deployment.webhooks):
        if hook.officer is not None and hook.officer not in officers:
            location: Location = ("webhooks", index, "officer")
            problems.append(_unknown(source, location, "officer", hook.officer, officers))
        if hook.campaign is not None and hook.campaign not in campaigns:
            location = ("webhooks", index, "campaign")
            problems.append(_unknown(source, location, "campaign", hook.campaign, campaigns))
    return problems


def _duplicates(source: Source, section: str, keys: Sequence[str], field: str) -> list[Problem]:
    seen: dict[str, int] = {}
    problems = []
    for index, key in enumerate(keys):
        if key in seen:
            first = source.line((section, seen[key]))
            message = f"{section}[{index}]: duplicate {field} '{key}' (first on line {first})"
            problems.append(source.problem((section, index, field), message))
        else:
            seen[key] = index
    return problems


def _unknown(
    source: Source,
    location: Location,
    what: str,
    name: str,
    known: Iterable[str],
    guess: str | None = None,
) -> Problem:
    close = [guess] if guess else difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    where = f"{location[0]}[{location[1]}]: " if len(location) > 1 else ""
    return source.problem(location, f"{where}unknown {what} '{name}'{hint}")


def _describe(source: Source) -> Describe:
    def describe(location: Location) -> tuple[str, Location]:
        if len(location) >= 2 and isinstance(location[1], int):
            return f"{location[0]}[{location[1]}]: ", location[2:]
        return "", location

    return describe


def _model_at(location: Location) -> type[BaseModel] | None:
    """The model that owns a location, so unknown fields get a did-you-mean."""
    if location == ():
        return Deployment
    if len(location) == 2 and isinstance(location[0], str) and isinstance(location[1], int):
        return _SECTION_MODELS.get(location[0])
    if len(location) == 3 and location[0] == "campaigns" and location[2] == "scoring":
        return QualificationRules
    if len(location) == 3 and location[0] == "campaigns" and location[2] == "web_pool":
        return WebPool
    if len(location) == 3 and location[0] == "officers" and location[2] == "caps":
        return Caps
    return None
