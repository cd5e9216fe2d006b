"""The structured condition language of ``branch`` steps — data, never ``eval``.

A condition is a small tree: a test on one slot (``{slot: credit_band, in: [excellent, good]}``)
or ``all`` / ``any`` / ``not`` over other conditions. Lists may refer to the campaign's own
configuration (``in: {campaign: states}``) so one flow serves campaigns with different footprints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

SlotName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
CampaignList = Literal["loan_types", "states"]
_OPERATORS = ("equals", "not_equals", "in", "not_in", "gte", "gt", "lte", "lt", "present")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CampaignRef(_Strict):
    """A list taken from the campaign serving the call, e.g. ``{campaign: states}``."""

    campaign: CampaignList


ListOperand = list[str] | CampaignRef


class SlotTest(_Strict):
    """Compare one answered slot with a value; exactly one operator per test."""

    slot: SlotName
    equals: str | None = None
    not_equals: str | None = None
    in_: ListOperand | None = Field(default=None, alias="in")
    not_in: ListOperand | None = None
    gte: float | None = None
    gt: float | None = None
    lte: float | None = None
    lt: float | None = None
    present: bool | None = None

    @model_validator(mode="after")
    def _one_operator(self) -> SlotTest:
        used = [name for name in _OPERATORS if self.operand(name) is not None]
        if len(used) != 1:
            listed = ", ".join(_OPERATORS)
            found = ", ".join(used) if used else "none"
            raise ValueError(f"needs exactly one operator of {listed} (found {found})")
        return self

    def operand(self, name: str) -> Any:
        return self.in_ if name == "in" else getattr(self, name)

    @property
    def operator(self) -> str:
        return next(name for name in _OPERATORS if self.operand(name) is not None)


class AllOf(_Strict):
    all: Annotated[list[Condition], Field(min_length=1)]


class AnyOf(_Strict):
    any: Annotated[list[Condition], Field(min_length=1)]


class NotOf(_Strict):
    not_: Condition = Field(alias="not")


def _condition_kind(value: Any) -> str:
    if isinstance(value, Mapping):
        for key in ("all", "any", "not"):
            if key in value:
                return f"{key}_of"
    elif isinstance(value, BaseModel):
        kinds: dict[type[BaseModel], str] = {AllOf: "all_of", AnyOf: "any_of", NotOf: "not_of"}
        return kinds.get(type(value), "slot_test")
    return "slot_test"


Condition = Annotated[
    Annotated[SlotTest, Tag("slot_test")]
    | Annotated[AllOf, Tag("all_of")]
    | Annotated[AnyOf, Tag("any_of")]
    | Annotated[NotOf, Tag("not_of")],
    Discriminator(_condition_kind),
]

AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def evaluate(
    condition: Condition,
    slots: Mapping[str, str],
    campaign_lists: Mapping[str, Sequence[str]],
) -> bool:
    """True when ``condition`` holds for the call's answered ``slots``."""
    if isinstance(condition, AllOf):
        return all(evaluate(c, slots, campaign_lists) for c in condition.all)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, slots, campaign_lists) for c in condition.any)
    if isinstance(condition, NotOf):
        return not evaluate(condition.not_, slots, campaign_lists)
    return _test(condition, slots.get(condition.slot), campaign_lists)


def _test(test: SlotTest, value: str | None, campaign_lists: Mapping[str, Sequence[str]]) -> bool:
    operator = test.operator
    if operator == "present":
        return (value is not None) == bool(test.present)
    if value is None:
        return operator in ("not_equals", "not_in")
    if operator in ("equals", "not_equals"):
        return (value == test.equals) if operator == "equals" else (value != test.not_equals)
    if operator in ("in", "not_in"):
        operand = test.in_ if operator == "in" else test.not_in
        members = (
            campaign_lists.get(operand.campaign, ())
            if isinstance(operand, CampaignRef)
            else operand or []
        )
        return (value in members) == (operator == "in")
    number = _as_number(value)
    bound = test.operand(operator)
    if number is None or not isinstance(bound, float):
        return False
    comparisons = {
        "gte": number >= bound,
        "gt": number > bound,
        "lte": number <= bound,
        "lt": number < bound,
    }
    return comparisons[operator]


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def slots_tested(condition: Condition) -> list[SlotTest]:
    """Every leaf test in ``condition``, for the validator's cross-checks."""
    if isinstance(condition, AllOf):
        return [t for c in condition.all for t in slots_tested(c)]
    if isinstance(condition, AnyOf):
        return [t for c in condition.any for t in slots_tested(c)]
    if isinstance(condition, NotOf):
        return slots_tested(condition.not_)
    return [condition]
