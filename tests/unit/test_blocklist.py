"""The do-not-call list: number formats, every bad line at once, and reloads that never empty it."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.compliance.blocklist import Blocklist, BlocklistError, normalise
from ivr.logs import FieldsFormatter
from tests.support.clock import FakeClock

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parent / "blocklists"
GOOD = FIXTURES / "good.txt"
BAD = FIXTURES / "bad.txt"
INTERVAL = 5.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def stats(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every os.stat the blocklist makes, by path (delegating to the real one)."""
    calls: list[Path] = []
    real_stat = os.stat

    def counting_stat(path: Path, *args: object, **kwargs: object) -> os.stat_result:
        calls.append(Path(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    # blocklist.py looks os.stat up at each call, so this counts its stats; undone after the test.
    monkeypatch.setattr(os, "stat", counting_stat)
    return calls


def write(path: Path, text: str) -> Path:
    """Write the file and move its mtime a second past the last one, so the edit is always seen
    (two writes within one filesystem tick could otherwise share an mtime)."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    bumped = max(path.stat().st_mtime_ns, before + 1_000_000_000)
    os.utime(path, ns=(bumped, bumped))
    return path


def loaded(path: Path, clock: Callable[[], float]) -> Blocklist:
    return Blocklist.load([path], min_interval_s=INTERVAL, clock=clock)


@pytest.mark.parametrize(
    ("number", "e164"),
    [
        ("+15125550100", "+15125550100"),
        ("15125550100", "+15125550100"),
        ("5125550100", "+15125550100"),
        ("(512) 555-0100", "+15125550100"),
        ("512.555.0100", "+15125550100"),
        ("+44 20 7946 0958", "+442079460958"),
        ("  +1 (512) 555-0100\t", "+15125550100"),
    ],
)
def test_each_format_normalises_to_e164(number: str, e164: str) -> None:
    assert normalise(number) == e164


@pytest.mark.parametrize(
    "number",
    [
        "",
        "   ",
        "512555010",  # nine digits: no country can be assumed
        "25125550100",  # eleven digits not starting with 1
        "020 7946 0958",  # a UK number without its country code is ambiguous
        "+0125550100",  # no country code starts with 0
        "+1234567",  # seven digits: too short for E.164
        "+1234567890123456",  # sixteen digits: too long
        "5125550100 ext 12",
        "++15125550100",
        "+1 512 555 0100 +",
        "call me",
        "５１２５５５０１００",  # fullwidth digits are not ASCII digits
    ],
)
def test_what_is_not_a_phone_number_normalises_to_none(number: str) -> None:
    assert normalise(number) is None


def test_good_file_loads_every_number_once() -> None:
    blocklist = Blocklist.load([GOOD])

    assert len(blocklist) == 6
    for number in [
        "+15125550100",
        "+15125550101",
        "+15125550102",
        "+15125550103",
        "+15125550104",
        "+442079460958",
    ]:
        assert number in blocklist
    assert blocklist.paths == (GOOD,)


def test_contains_normalises_and_rejects_what_is_not_a_number() -> None:
    blocklist = Blocklist.load([GOOD])

    assert "(512) 555-0103" in blocklist
    assert "1 512 555 0104" in blocklist
    assert "+44 (20) 7946-0958" in blocklist
    assert "+15125550199" not in blocklist
    assert "not a number" not in blocklist
    assert "" not in blocklist
    assert 5125550100 not in blocklist
    assert None not in blocklist


def test_bad_file_reports_every_bad_line_with_its_path_and_line() -> None:
    with pytest.raises(BlocklistError) as caught:
        Blocklist.load([BAD])

    assert caught.value.problems == [
        f"{BAD}:3: not a phone number: '512555010'",
        f"{BAD}:4: not a phone number: 'call me maybe'",
        f"{BAD}:6: not a phone number: '25125550100'",
        f"{BAD}:8: not a phone number: '5125550106 ext 12'",
    ]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_bad_line_is_quoted_to_forty_characters(tmp_path: Path) -> None:
    path = write(tmp_path / "dnc.txt", "x" * 50 + "\n")

    with pytest.raises(BlocklistError) as caught:
        Blocklist.load([path])

    assert caught.value.problems == [f"{path}:1: not a phone number: '{'x' * 40}'"]


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.txt"

    with pytest.raises(BlocklistError) as caught:
        Blocklist.load([missing])

    assert caught.value.problems == [f"{missing}: no such file"]


def test_problems_of_every_file_are_reported_together(tmp_path: Path) -> None:
    missing = tmp_path / "absent.txt"
    other = write(tmp_path / "other.txt", "5125550100\n\nnope\n")

    with pytest.raises(BlocklistError) as caught:
        Blocklist.load([BAD, missing, other, GOOD])

    assert len(caught.value.problems) == 6
    assert caught.value.problems[4:] == [
        f"{missing}: no such file",
        f"{other}:3: not a phone number: 'nope'",
    ]


def test_file_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"5125550100\n\xe9\n")

    with pytest.raises(BlocklistError) as caught:
        Blocklist.load([path])

    assert caught.value.problems == [f"{path}: not UTF-8 text (byte 11)"]


def test_numbers_from_several_files_are_merged(tmp_path: Path) -> None:
    second = write(tmp_path / "second.txt", "+1 512 555 0177\n5125550100\n")

    blocklist = Blocklist.load([GOOD, second])

    assert len(blocklist) == 7
    assert "+15125550177" in blocklist
    assert blocklist.paths == (GOOD, second)


def test_empty_blocklist_blocks_nobody() -> None:
    blocklist = Blocklist.empty()

    assert len(blocklist) == 0
    assert "+15125550100" not in blocklist
    assert blocklist.paths == ()
    assert blocklist.refresh() is False
    assert blocklist.refresh(force=True) is False


def test_refresh_without_change_returns_false_after_one_stat_per_file(
    tmp_path: Path, clock: FakeClock, stats: list[Path]
) -> None:
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)
    stats.clear()
    clock.advance(INTERVAL)

    assert blocklist.refresh() is False
    assert stats == [path]
    assert len(blocklist) == 1


def test_refresh_after_an_edit_swaps_in_the_new_list(tmp_path: Path, clock: FakeClock) -> None:
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)

    write(path, "5125550111\n5125550112\n")
    clock.advance(INTERVAL)

    assert blocklist.refresh() is True
    assert "+15125550111" in blocklist
    assert "+15125550112" in blocklist
    assert "+15125550100" not in blocklist
    assert len(blocklist) == 2
    clock.advance(INTERVAL)
    assert blocklist.refresh() is False


def test_refresh_within_the_interval_does_not_stat(
    tmp_path: Path, clock: FakeClock, stats: list[Path]
) -> None:
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)
    write(path, "5125550111\n")
    stats.clear()

    clock.advance(INTERVAL - 0.5)
    assert blocklist.refresh() is False
    assert blocklist.refresh() is False
    assert stats == []
    assert "+15125550100" in blocklist
    assert "+15125550111" not in blocklist

    clock.advance(0.5)
    assert blocklist.refresh() is True
    assert stats == [path]
    assert "+15125550111" in blocklist
    assert "+15125550100" not in blocklist


def test_force_bypasses_the_interval(tmp_path: Path, clock: FakeClock) -> None:
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)
    write(path, "5125550111\n")

    assert blocklist.refresh() is False
    assert blocklist.refresh(force=True) is True
    assert "+15125550111" in blocklist
    assert "+15125550100" not in blocklist


def test_an_edit_to_any_file_reloads_them_all(tmp_path: Path, clock: FakeClock) -> None:
    first = write(tmp_path / "first.txt", "5125550100\n")
    second = write(tmp_path / "second.txt", "5125550101\n")
    blocklist = Blocklist.load([first, second], min_interval_s=INTERVAL, clock=clock)

    write(second, "5125550122\n")
    clock.advance(INTERVAL)

    assert blocklist.refresh() is True
    assert "+15125550100" in blocklist
    assert "+15125550122" in blocklist
    assert "+15125550101" not in blocklist
    assert len(blocklist) == 2


def test_malformed_edit_keeps_the_old_list_and_warns_with_numbers_masked(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.setFormatter(FieldsFormatter("%(levelname)s %(name)s: %(message)s"))
    caplog.set_level(logging.INFO, logger="ivr.compliance")
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)

    write(path, "5125550133\n512-555-01999\n")
    clock.advance(INTERVAL)

    assert blocklist.refresh() is False
    assert "+15125550100" in blocklist
    assert "+15125550133" not in blocklist
    assert len(blocklist) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "blocklist reload failed; keeping the previous list"
    ]
    assert f"{path}:2: not a phone number: '•••••••1999'" in caplog.text
    assert "kept=1" in caplog.text
    assert "512-555-01999" not in caplog.text
    assert "5125550133" not in caplog.text
    assert "5125550100" not in caplog.text

    # The same bad files are not re-read (nor warned about) at every call.
    clock.advance(INTERVAL)
    assert blocklist.refresh() is False
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1

    # Fixing the file takes effect at the next refresh.
    write(path, "5125550133\n")
    clock.advance(INTERVAL)
    assert blocklist.refresh() is True
    assert "+15125550133" in blocklist
    assert "+15125550100" not in blocklist


def test_file_deleted_after_load_keeps_the_old_list(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.setFormatter(FieldsFormatter("%(levelname)s %(name)s: %(message)s"))
    caplog.set_level(logging.WARNING, logger="ivr.compliance")
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)

    path.unlink()
    clock.advance(INTERVAL)

    assert blocklist.refresh() is False
    assert "+15125550100" in blocklist
    assert len(blocklist) == 1
    assert f"problems={path}: no such file" in caplog.text

    write(path, "5125550144\n")
    clock.advance(INTERVAL)
    assert blocklist.refresh() is True
    assert "+15125550144" in blocklist
    assert "+15125550100" not in blocklist


def test_reload_swaps_the_set_in_the_same_object(tmp_path: Path, clock: FakeClock) -> None:
    path = write(tmp_path / "dnc.txt", "5125550100\n")
    blocklist = loaded(path, clock)
    before = blocklist._numbers

    write(path, "5125550155\n")
    assert blocklist.refresh(force=True) is True

    assert isinstance(blocklist._numbers, frozenset)
    assert blocklist._numbers is not before
    assert before == frozenset({"+15125550100"})
    assert blocklist._numbers == frozenset({"+15125550155"})
