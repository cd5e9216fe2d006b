"""The deployment the call scenarios run on: the sample one, with the scenarios' own officers.

The sample ``warmline.yaml`` has real opening hours and caps, so which officer a transfer
reaches depends on when it runs. Scenarios need the same answer at any hour: this writes the
sample file with its ``officers`` and ``pools`` replaced by the scenarios' own roster,
``tests/scenarios/deployment/officers.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.services import ROOT

SCENARIO_OFFICERS = ROOT / "tests" / "scenarios" / "deployment" / "officers.yaml"


def scenario_deployment(folder: Path, officers: Path = SCENARIO_OFFICERS) -> Path:
    """Write the scenario deployment into ``folder`` and return its path."""
    sample = yaml.safe_load((ROOT / "warmline.yaml").read_text())
    roster = yaml.safe_load(officers.read_text())
    sample.update(officers=roster["officers"], pools=roster["pools"])
    sample["flows"] = str(ROOT / sample.get("flows", "flows"))
    sample["blocklist"] = [str(ROOT / name) for name in sample.get("blocklist", [])]
    path = folder / "scenario-deployment.yaml"
    path.write_text(yaml.safe_dump(sample, sort_keys=False))
    return path
