"""Field types shared by the deployment file's sections (numbers, names, money)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{7,14}$")]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$", max_length=64)]
Money = Annotated[Decimal, Field(ge=0, max_digits=10, decimal_places=2)]
HttpUrl = Annotated[str, Field(pattern=r"^https?://\S+$")]


class Strict(BaseModel):
    """Unknown fields are errors and loaded configuration never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def cents(amount: Decimal) -> int:
    """Money as whole cents, the way records store it (exact on every database)."""
    return int((amount * 100).to_integral_value())


def dollars(whole_cents: int) -> Decimal:
    return (Decimal(whole_cents) / 100).quantize(Decimal("0.01"))
