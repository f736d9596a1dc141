"""Times after programming, read and written."""

from __future__ import annotations

import pytest

from snnvar.hardware import format_time, parse_time


def test_times_are_read_in_seconds_from_units() -> None:
    assert parse_time("1h") == 3600 and parse_time("1d") == 86400 and parse_time(3) == 3.0
    assert parse_time("1y") == pytest.approx(3.15576e7)
    assert parse_time(" 5min ") == 300.0 and parse_time("30s") == 30.0 and parse_time("2m") == 120
    for bad, message in (
        ("1 week", "cannot read the time"),
        (-1.0, "must be finite and >= 0"),
        (float("inf"), "must be finite and >= 0"),
        (True, "a time must be a number"),
    ):
        with pytest.raises(ValueError, match=message):
            parse_time(bad)


def test_times_are_written_in_the_largest_unit_they_reach() -> None:
    assert [format_time(t) for t in (None, 1.0, 90.0, 3600.0, 86400.0, 3.15576e7)] == [
        "t0", "1 s", "1.5 min", "1 h", "1 d", "1 y"
    ]  # fmt: skip
    for text in ("1h", "1d", "1y", "5min"):  # the two directions agree
        assert parse_time(format_time(parse_time(text)).replace(" ", "")) == parse_time(text)
