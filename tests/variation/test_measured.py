"""Measured files: a header is text in every column; a typo in the first value is an
error naming the line, never a header dropped in silence."""

from __future__ import annotations

import pytest

from snnvar.files import is_header
from snnvar.variation import read_samples


@pytest.mark.parametrize(
    ("fields", "header"),
    [
        (["error"], True),
        (["target", "achieved"], True),
        (["0.5x"], False),
        (["1e", "1.1"], False),
        ([".5e"], False),
        (["-inf"], False),
        (["nan"], False),
        (["g", "1.0"], False),
        ([""], False),
        (["error", ""], True),  # a trailing comma, as a data line may have
        (["\u22120.12"], False),  # a Unicode minus starts a value
        (["1h_drift"], False),  # a header cell may not start like a number
    ],
)
def test_a_header_is_text_in_every_column(fields, header) -> None:
    assert is_header(fields) is header


def test_a_typo_in_the_first_value_is_an_error(tmp_path) -> None:
    f = tmp_path / "m.csv"
    f.write_text("0.5x\n0.1\n0.3\n")
    with pytest.raises(ValueError, match=r"m\.csv', line 1: '0\.5x' is not a number"):
        read_samples(f)
    f.write_text("error\n0.5\n0.1\n0.3\n")
    with pytest.warns(UserWarning, match=r"m\.csv', line 1: 'error' read as a header"):
        assert read_samples(f).tolist() == [0.5, 0.1, 0.3]
