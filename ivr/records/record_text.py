"""One call's record (:func:`ivr.records.record.call_record`) as text: ``warmline calls show``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any


def record_text(record: Mapping[str, Any]) -> str:
    """The record section by section; times in UTC."""
    lines = [*_summary(record), *_answers(record), *_transfers(record)]
    lines += [*_score(record), *_consent(record), *_timeline(record)]
    lines += [*_recordings(record), *_billing(record)]
    return "\n".join(lines)


def _summary(record: Mapping[str, Any]) -> list[str]:
    source = record["attribution"]
    ended = f" → {_clock(record['ended_at'])}" if record["ended_at"] else ""
    carrier = f", carrier {record['duration_s']} s" if record["duration_s"] is not None else ""
    officer = record["officer"]
    return [
        f"call {record['call_sid']}: {record['status']}"
        + (f" ({record['outcome']})" if record["outcome"] else ""),
        f"  time       {_day(record['started_at'])}{ended} UTC{carrier}",
        f"  caller     {source['caller']}"
        + (f" ({source['caller_state']})" if source["caller_state"] else "")
        + (" (repeat caller)" if source["repeat"] else ""),
        f"  number     {source['number']}",
        f"  campaign   {_named(source['campaign'])}",
        f"  publisher  {_named(source['publisher'])}",
        f"  flow       {record['flow']['name']} ({record['flow']['version']})",
        f"  officer    {_named(officer) if officer else '(not transferred)'}",
        *_visit(record.get("visit")),
    ]


def _visit(visit: Mapping[str, Any] | None) -> list[str]:
    if visit is None:
        return []
    tags = [
        f"{name} {visit[key]}"
        for name, key in (
            ("source", "source"),
            ("medium", "medium"),
            ("campaign", "campaign"),
            ("keyword", "keyword"),
        )
        if visit[key]
    ]
    click = f", {visit['click_id_kind']} {visit['click_id']}" if visit["click_id"] else ""
    lines = [f"  visit      {', '.join(tags) or '(no tags)'}{click}"]
    if visit["landing_page"]:
        lines.append(f"  landing    {visit['landing_page']}")
    return lines


def _answers(record: Mapping[str, Any]) -> list[str]:
    if not record["answers"]:
        return ["answers: none"]
    lines = ["answers:"]
    for answer in record["answers"]:
        heard = f' (heard "{answer["heard"]}")' if answer["heard"] else ""
        lines.append(f"  {answer['slot']} = {answer['value']}  by {answer['source']}{heard}")
    return lines


def _transfers(record: Mapping[str, Any]) -> list[str]:
    if not record["transfer_attempts"]:
        return ["transfer attempts: none"]
    lines = ["transfer attempts:"]
    for attempt in record["transfer_attempts"]:
        bid = f", bid {attempt['bid']}" if attempt["bid"] else ""
        repeat = ", repeat caller" if attempt["duplicate"] else ""
        lines.append(
            f"  {attempt['position'] + 1}. {attempt['officer']} {attempt['number']}: "
            f"{attempt['outcome'] or 'unfinished'}, {attempt['duration_s']:.0f} s{bid}{repeat}"
        )
    return lines


def _score(record: Mapping[str, Any]) -> list[str]:
    score = record["score"]
    if score is None:
        return ["score: none"]
    verdict = "qualified" if score["qualified"] else "not qualified"
    lines = [f"score: {score['score']} ({verdict}), intent {score['intent'] or 'unknown'}"]
    lines += [f"  {reason}" for reason in score["reasons"]]
    return lines


def _consent(record: Mapping[str, Any]) -> list[str]:
    consent = record["consent"]
    if consent is None:
        return ["consent: none recorded"]
    given = {True: "given", False: "refused", None: "not asked"}[consent["given"]]
    party = "all-party" if consent["all_party"] else "one-party"
    return [
        f"consent: {given} ({party} state {consent['caller_state'] or 'unknown'}, "
        f"step {consent['step']} of {consent['flow']} {consent['flow_version']})",
        f'  disclosure "{consent["disclosure"]}"',
    ]


def _timeline(record: Mapping[str, Any]) -> list[str]:
    lines = ["timeline:"]
    for event in record["timeline"]:
        step = f" [{event['step']}]" if event["step"] else ""
        detail = f"  {event['detail']}" if event["detail"] else ""
        lines.append(
            f"  {_clock(event['at'])}  {event['source']:<8} {event['event']}{step}{detail}"
        )
    return lines if len(lines) > 1 else ["timeline: empty"]


def _recordings(record: Mapping[str, Any]) -> list[str]:
    if not record["recordings"]:
        return ["recordings: none"]
    lines = ["recordings:"]
    for recording in record["recordings"]:
        lines.append(
            f"  {recording['recording_sid']}: {recording['duration_s'] or '?'} s, "
            f"{recording['channels'] or '?'} channel(s)"
            + (f", stored {recording['path']}" if recording["path"] else "")
        )
        transcript = recording["transcript"]
        if transcript is not None:
            lines += [f"    {text}" for text in transcript["text"].splitlines()]
    return lines


def _billing(record: Mapping[str, Any]) -> list[str]:
    line = record["billing"]
    if line is None:
        return ["billing: no line (the call has not ended)"]
    verdict = "billable" if line["billable"] else f"not billable ({line['rule']})"
    lines = [
        f"billing: line {line['line_id']}, {verdict}: {line['reason']}",
        f"  revenue {line['revenue']}  payout {line['payout']}"
        + (
            f"  (net of adjustments: {line['net_revenue']} / {line['net_payout']})"
            if line["adjustments"]
            else ""
        ),
    ]
    for adjustment in line["adjustments"]:
        resolved = (
            f", {adjustment['status']} by {adjustment['resolved_by']}"
            if adjustment["resolved_by"]
            else f", {adjustment['status']}"
        )
        lines.append(
            f"  {adjustment['kind']} {adjustment['id']} by {adjustment['raised_by']}"
            f"{resolved}: revenue {adjustment['revenue_delta']}, payout "
            f"{adjustment['payout_delta']}: {adjustment['reason']}"
            + (f" ({adjustment['resolution']})" if adjustment["resolution"] else "")
        )
    return lines


def _named(thing: Mapping[str, Any]) -> str:
    name, ident = thing.get("name"), thing["id"]
    return f"{name} ({ident})" if name and name != ident else str(ident)


def _day(stamp: str) -> str:
    return f"{datetime.fromisoformat(stamp):%Y-%m-%d %H:%M:%S}"


def _clock(stamp: str) -> str:
    return f"{datetime.fromisoformat(stamp):%H:%M:%S}"
