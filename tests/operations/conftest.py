"""Helpers for the operations tests: scraping ``/metrics`` and reading its samples."""

from __future__ import annotations

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "test-metrics-token-5f0c"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(base_url: str, token: str | None = METRICS_TOKEN) -> tuple[str, Samples]:
    """``GET /metrics``: the raw text and every sample by (name, labels)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/metrics", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return text, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when the series does not exist yet (nothing counted)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
