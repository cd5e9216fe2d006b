"""What a publisher's page sends when it asks for a number: validated, bounded, never trusted.

Everything here comes from a visitor's browser. It is checked for shape and size only, kept
as text, and never rendered as HTML by Warmline (reports print it as plain text and the web
pages escape it).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ivr.engine.state import VisitAttribution

MAX_BODY_BYTES = 8 * 1024
"""A lease request is a few hundred bytes; anything near this is not the snippet's."""

CLICK_IDS = ("gclid", "msclkid", "fbclid")
"""Ad networks' click ids, in the order one is picked when a page has several."""

Tag = Annotated[str, Field(max_length=200)]
Url = Annotated[str, Field(max_length=2048)]


class LeaseRequest(BaseModel):
    """The JSON body of ``POST /dni/{campaign}/lease``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    visit_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{16,64}$")]
    page: Url
    referrer: Url = ""
    utm_source: Tag = ""
    utm_medium: Tag = ""
    utm_campaign: Tag = ""
    utm_term: Tag = ""
    utm_content: Tag = ""
    gclid: Tag = ""
    msclkid: Tag = ""
    fbclid: Tag = ""

    @field_validator("page")
    @classmethod
    def _page(cls, value: str) -> str:
        if not _is_web_url(value):
            raise ValueError("must be the page's http(s) URL")
        return value

    @field_validator("referrer")
    @classmethod
    def _referrer(cls, value: str) -> str:
        if value and not _is_web_url(value):
            raise ValueError("must be empty or an http(s) URL")
        return value

    def attribution(self, leased_at: float) -> VisitAttribution:
        """The visit as it is stored with its lease and, when its number rings, with the call."""
        kind = next((name for name in CLICK_IDS if getattr(self, name)), None)
        return VisitAttribution(
            visit_id=self.visit_id,
            source=self.utm_source or None,
            medium=self.utm_medium or None,
            campaign=self.utm_campaign or None,
            keyword=self.utm_term or None,
            content=self.utm_content or None,
            landing_page=self.page,
            referrer=self.referrer or None,
            click_id=getattr(self, kind) if kind else None,
            click_id_kind=kind,
            leased_at=leased_at,
        )


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and value.isprintable()


def problems(error: ValidationError) -> list[str]:
    """Each problem as ``field: message``, for the 400 answer (never echoing the input)."""
    found = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        found.append(f"{where}: {item['msg']}")
    return found
