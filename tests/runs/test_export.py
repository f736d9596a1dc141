"""export_run: what it refuses before anything is loaded or written (the graph itself is
tested through ``snnvar export`` in tests/cli/test_export.py)."""

from __future__ import annotations

import pytest

from snnvar import Variation
from snnvar.runs import export_run


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chip": 1}, r"chip and sigma go together"),
        ({"sigma": 0.1}, r"chip and sigma go together"),
        ({"variation": Variation(0.0)}, r"a variation sets the variation of a chip"),
        ({"chip": -1, "sigma": 0.1}, r"chip must lie in \[0, "),
        ({"chip": 0, "sigma": 1.5}, r"sigma must lie in \[0, 1\].*got 1.5"),
        ({"chip": 0, "sigma": 0.1, "variation": Variation(0.0, mode="dynamic")}, r"dynamic"),
    ],
)
def test_bad_chips_are_refused_before_anything_is_written(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        export_run(tmp_path / "no-run", tmp_path / "g.nir", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_the_graph_file_is_not_its_report_and_is_not_overwritten(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"give the graph file \(e.g. model.nir\)"):
        export_run(tmp_path / "no-run", tmp_path / "g.json")
    (tmp_path / "g.nir").write_text("old")
    with pytest.raises(FileExistsError, match=r"g.nir exists; pass overwrite=True"):
        export_run(tmp_path / "no-run", tmp_path / "g.nir")
    assert (tmp_path / "g.nir").read_text() == "old"
