"""``webhooks:`` in the deployment file: loaded, validated with ``path:line`` problems (see
``tests/deployments/bad/webhook_*.yaml``), and synced into the records without any secret."""

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
from tests.hooks.support import OPS_SECRET_ENV, SECRET_ENV, hooked_deployment

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_endpoints_are_synced_with_the_secrets_variable_name_only(
    records: Engine, scenario_deployment_path: Path, tmp_path: Path
) -> None:
    path = hooked_deployment(scenario_deployment_path, tmp_path, url="https://crm.example.com/h")
    setup = load_setup(path)
    assert [w.id for w in setup.deployment.webhooks] == ["amy-crm", "sunbelt-ops"]
    with Session(records) as session, session.begin():
        first = sync_deployment(session, setup, NOW)
    with Session(records) as session, session.begin():
        again = sync_deployment(session, setup, NOW)
    assert (first["webhooks"], again["webhooks"]) == (SyncCounts(added=2), SyncCounts(unchanged=2))
    with Session(records) as session:
        rows = {e.id: e for e in session.scalars(select(t.WebhookEndpoint))}
    amy, ops = rows["amy-crm"], rows["sunbelt-ops"]
    assert (amy.officer_id, amy.campaign_id, amy.secret_env) == ("amy-ng", None, SECRET_ENV)
    assert (ops.officer_id, ops.campaign_id, ops.secret_env) == (
        None,
        "sunbelt-refi",
        OPS_SECRET_ENV,
    )
    assert ops.events == ["completed", "billable"]
    assert (amy.url, amy.timeout_s) == ("https://crm.example.com/h", 10.0)

    data = yaml.safe_load(path.read_text())
    data["webhooks"] = data["webhooks"][:1]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with Session(records) as session, session.begin():
        removed = sync_deployment(session, load_setup(path), NOW)
    assert removed["webhooks"] == SyncCounts(deactivated=1, unchanged=1)
    with Session(records) as session:
        gone = session.get(t.WebhookEndpoint, "sunbelt-ops")
        assert gone is not None and gone.active is False
