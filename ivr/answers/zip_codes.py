"""ZIP code -> state, by the USPS three-digit ZIP prefix.

Source: the USPS "3-Digit ZIP Code Prefix Matrix" (Postal Explorer, list L002), as summarised in
Wikipedia's "List of ZIP Code prefixes". The table below is written as blocks of prefixes per
state. Assumptions:

- A prefix belongs to the state USPS assigns it to, even where the office that sorts its mail is
  elsewhere: 005 (IRS, Holtsville) is NY, 055 (IRS, Andover) MA, 201 (Dulles) VA, 569 (parcel
  return) DC, 733 (IRS, Austin) and 885 (El Paso PO boxes) TX.
- A prefix inside a state's block that USPS has not assigned (or has retired) maps to that
  state: no real address has it, and the block's state is the only sensible reading. Prefixes
  between blocks (000-004, 269, 428-429, 568, 578-579, 589, 659, 694-699, 732, 817-819, 848-849,
  866-869, 886-888, 899, ...) map to None.
- Territories map to None: Puerto Rico and the Virgin Islands (006-009), Guam and the Pacific
  islands (969). So do military APO/FPO prefixes: AE (090-099), AA (340), AP (962-966).
  Warmline routes to officers licensed in the 50 states and DC; a territory is not one of them.
- A handful of ZIP codes straddle a state line (e.g. around Fort Campbell); the prefix gives the
  USPS state, and the flow confirms the state with the caller anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["ZIP3_TO_STATE", "state_for_zip"]

_BLOCKS: Final[tuple[tuple[int, int, str], ...]] = (
    (5, 5, "NY"),
    (10, 27, "MA"),
    (28, 29, "RI"),
    (30, 38, "NH"),
    (39, 49, "ME"),
    (50, 54, "VT"),
    (55, 55, "MA"),
    (56, 59, "VT"),
    (60, 69, "CT"),
    (70, 89, "NJ"),
    (100, 149, "NY"),
    (150, 196, "PA"),
    (197, 199, "DE"),
    (200, 200, "DC"),
    (201, 201, "VA"),
    (202, 205, "DC"),
    (206, 219, "MD"),
    (220, 246, "VA"),
    (247, 268, "WV"),
    (270, 289, "NC"),
    (290, 299, "SC"),
    (300, 319, "GA"),
    (320, 339, "FL"),
    (341, 349, "FL"),
    (350, 369, "AL"),
    (370, 385, "TN"),
    (386, 397, "MS"),
    (398, 399, "GA"),
    (400, 427, "KY"),
    (430, 459, "OH"),
    (460, 479, "IN"),
    (480, 499, "MI"),
    (500, 528, "IA"),
    (530, 549, "WI"),
    (550, 567, "MN"),
    (569, 569, "DC"),
    (570, 577, "SD"),
    (580, 588, "ND"),
    (590, 599, "MT"),
    (600, 629, "IL"),
    (630, 658, "MO"),
    (660, 679, "KS"),
    (680, 693, "NE"),
    (700, 715, "LA"),
    (716, 729, "AR"),
    (730, 731, "OK"),
    (733, 733, "TX"),
    (734, 749, "OK"),
    (750, 799, "TX"),
    (800, 816, "CO"),
    (820, 831, "WY"),
    (832, 838, "ID"),
    (840, 847, "UT"),
    (850, 865, "AZ"),
    (870, 884, "NM"),
    (885, 885, "TX"),
    (889, 898, "NV"),
    (900, 961, "CA"),
    (967, 968, "HI"),
    (970, 979, "OR"),
    (980, 994, "WA"),
    (995, 999, "AK"),
)


def _expand(blocks: tuple[tuple[int, int, str], ...]) -> Mapping[str, str]:
    table: dict[str, str] = {}
    for first, last, state in blocks:
        for prefix in range(first, last + 1):
            key = f"{prefix:03d}"
            if key in table:
                raise ValueError(f"ZIP prefix {key} listed twice")
            table[key] = state
    return MappingProxyType(table)


ZIP3_TO_STATE: Final[Mapping[str, str]] = _expand(_BLOCKS)
"""Three-digit prefix ("752") -> USPS state code ("TX")."""


def state_for_zip(zip_code: str) -> str | None:
    """The state of a five-digit ZIP code; None for anything else or a non-state prefix."""
    if len(zip_code) != 5 or not (zip_code.isascii() and zip_code.isdigit()):
        return None
    return ZIP3_TO_STATE.get(zip_code[:3])
