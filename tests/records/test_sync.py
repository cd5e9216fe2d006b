"""``sync_deployment``: the deployment file into the records, idempotently, never deleting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ivr.deployment import load_setup
from ivr.records import tables as t
from ivr.records.sync import SyncCounts, sync_deployment
from tests.support.services import ROOT

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def edited_sample(folder: Path, edit: object) -> Path:
    """A copy of the sample deployment (and its flows) with ``edit`` applied to its data."""
    data = yaml.safe_load((ROOT / "warmline.yaml").read_text())
    edit(data)  # type: ignore[operator]
    data["flows"] = str(ROOT / "flows")
    data["blocklist"] = [str(ROOT / name) for name in data.get("blocklist", [])]
    path = folder / "warmline.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_sync_twice_changes_nothing_the_second_time(records: Engine) -> None:
    setup = load_setup(ROOT / "warmline.yaml")
    with Session(records) as session, session.begin():
        first = sync_deployment(session, setup, NOW)
    with Session(records) as session, session.begin():
        second = sync_deployment(session, setup, NOW)
    d = setup.deployment
    assert first == {
        "publishers": SyncCounts(added=len(d.publishers)),
        "campaigns": SyncCounts(added=len(d.campaigns)),
        "numbers": SyncCounts(added=len(d.numbers)),
        "officers": SyncCounts(added=len(d.officers)),
        "webhooks": SyncCounts(added=len(d.webhooks)),
    }
    assert second == {
        "publishers": SyncCounts(unchanged=len(d.publishers)),
        "campaigns": SyncCounts(unchanged=len(d.campaigns)),
        "numbers": SyncCounts(unchanged=len(d.numbers)),
        "officers": SyncCounts(unchanged=len(d.officers)),
        "webhooks": SyncCounts(unchanged=len(d.webhooks)),
    }
    with Session(records) as session:
        ana = session.get(t.Officer, "ana-ruiz")
        assert ana is not None
        assert (ana.price_cents, ana.min_billable_s, ana.nmls_id) == (4500, 90, "1000001")
        assert ana.licences["TX"] == "2027-12-31"
        number = session.get(t.TrackingNumber, "+18005550100")
        assert number is not None
        assert (number.campaign_id, number.publisher_id) == ("sunbelt-refi", "rate-compare")


def test_a_changed_price_updates_and_a_removed_officer_is_kept_inactive(
    records: Engine, tmp_path: Path
) -> None:
    with Session(records) as session, session.begin():
        sync_deployment(session, load_setup(ROOT / "warmline.yaml"), NOW)

    def edit(data: dict[str, list[dict[str, object]]]) -> None:
        data["officers"] = [o for o in data["officers"] if o["id"] != "dan-wu"]
        data["officers"][0]["price"] = "47.50"
        for pool in data["pools"]:
            pool["officers"] = [o for o in pool["officers"] if o != "dan-wu"]  # type: ignore[union-attr]

    later = datetime(2026, 11, 25, tzinfo=UTC)
    with Session(records) as session, session.begin():
        counts = sync_deployment(session, load_setup(edited_sample(tmp_path, edit)), later)
    assert (counts["officers"].changed, counts["officers"].deactivated) == (1, 1)
    with Session(records) as session:
        officers = {o.id: o for o in session.scalars(select(t.Officer))}
        assert officers["ana-ruiz"].price_cents == 4750
        assert officers["ana-ruiz"].synced_at == later
        assert officers["dan-wu"].active is False  # kept: calls and billing lines name it
    with Session(records) as session, session.begin():
        back = sync_deployment(session, load_setup(ROOT / "warmline.yaml"), later)
    assert (back["officers"].changed, back["officers"].added) == (2, 0)
