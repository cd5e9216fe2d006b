"""``WARMLINE_LOG_FORMAT=json``: one JSON object per line, phone numbers masked everywhere."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ivr.logs import FieldsFormatter, JsonFormatter, fields, mask_phone
from ivr.simulator.caller import ScriptedCaller
from ivr.simulator.carrier import Carrier
from ivr.simulator.session import number_config
from tests.support.services import ACCOUNT_SID, AUTH_TOKEN, start_server

CALLER = "+15125550177"


def emit(formatter: logging.Formatter, record_fields: dict[str, object]) -> str:
    """Log one error with a traceback quoting the caller's number, through ``formatter``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.Logger("ivr.test")
    logger.addHandler(handler)
    try:
        raise ValueError(f"cannot dial {CALLER}")
    except ValueError:
        logger.exception("transfer failed", extra=fields(**record_fields))
    return stream.getvalue()


def test_a_json_record_carries_masked_fields_and_a_masked_traceback() -> None:
    line = emit(JsonFormatter(), {"caller": CALLER, "turn": 3, "time": "a field"})
    assert line.count("\n") == 1
    document = json.loads(line)
    assert document["level"] == "ERROR" and document["logger"] == "ivr.test"
    assert document["message"] == "transfer failed"
    assert document["time"].endswith("+00:00")
    assert document["caller"] == mask_phone(CALLER) and document["turn"] == 3
    assert document["field_time"] == "a field"  # a field never replaces the record's own keys
    assert "Traceback" in document["exc_info"] and "ValueError" in document["exc_info"]
    assert mask_phone(CALLER) in document["exc_info"]
    assert CALLER[2:] not in line


def test_the_text_format_masks_the_traceback_too() -> None:
    text = emit(FieldsFormatter("%(levelname)s %(name)s: %(message)s"), {"caller": CALLER})
    assert text.startswith(f"ERROR ivr.test: transfer failed caller={mask_phone(CALLER)}")
    assert f"ValueError: cannot dial {mask_phone(CALLER)}" in text
    assert CALLER[2:] not in text


@pytest.mark.e2e
async def test_a_whole_call_logs_only_json_lines_without_the_callers_number(
    redis: Redis, redis_url: str, tmp_path: Path, scenario_deployment_path: Path
) -> None:
    server = start_server(
        redis_url,
        None,
        tmp_path,
        deployment=scenario_deployment_path,
        extra_env={"WARMLINE_LOG_FORMAT": "json"},
    )
    try:
        config = number_config(server.url, AUTH_TOKEN, account_sid=ACCOUNT_SID)
        async with Carrier(config) as carrier:
            record = await carrier.place_call(
                ScriptedCaller([{"digits": "1"}, {"hangup": True}]),
                from_number=CALLER,
                to_number="+18005550100",
            )
    finally:
        assert server.stop() == 0
    log = server.log()
    documents = [json.loads(line) for line in log.splitlines()]
    assert len(documents) >= 4
    for document in documents:
        assert {"time", "level", "logger", "message"} <= document.keys()
    messages = [d["message"] for d in documents]
    assert "call started" in messages and "call ended" in messages
    started = next(d for d in documents if d["message"] == "call started")
    assert started["caller"] == mask_phone(CALLER)
    assert started["call_sid"] == record.call_sid
    ended = next(d for d in documents if d["message"] == "call ended")
    assert ended["outcome"] == "abandoned"
    assert CALLER[2:] not in log and CALLER[-7:] not in log
