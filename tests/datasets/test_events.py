"""N-MNIST .bin files, frames, the frame cache, and the embedded digits sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from snnvar import datasets
from snnvar.datasets import FrameSpec, MissingDataError, read_nmnist_bin
from snnvar.datasets.digits import saccade_events
from tests.datasets.fakes import nmnist_bytes, write_nmnist


def test_read_bin_with_timestamp_overflow(tmp_path: Path) -> None:
    events = [(1, 2, 1, 8000), (3, 4, 0, 8100), (33, 33, 1, 10)]
    path = tmp_path / "a.bin"
    path.write_bytes(nmnist_bytes(events, overflow_after=1))
    ev = read_nmnist_bin(path)
    assert ev.dtype.names == ("x", "y", "t", "p")
    assert ev["x"].tolist() == [1, 3, 33] and ev["y"].tolist() == [2, 4, 33]
    assert ev["p"].tolist() == [1, 0, 1]
    assert ev["t"].tolist() == [8000, 8100, 10 + 2**13]  # the overflow record adds 8192 µs


def test_events_outside_the_sensor_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(nmnist_bytes([(40, 2, 1, 5)]))
    with pytest.raises(ValueError, match=r"bad\.bin: events outside the 34x34 sensor"):
        read_nmnist_bin(path)
    path.write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match=r"bad\.bin: 7 bytes is not a whole number"):
        read_nmnist_bin(path)


def test_partial_nmnist_layout_and_frames(tmp_path: Path) -> None:
    write_nmnist(tmp_path, digits=(3, 7))
    partial = r"partial set, 4 of 60000 Train samples found in .* \(digits \['3', '7'\]\)"
    with pytest.warns(UserWarning, match=partial):
        ds = datasets.get("nmnist", root=tmp_path, time_bins=10, download=False)
    assert len(ds) == 4 and ds.targets.tolist() == [3, 3, 7, 7]
    x, y = ds[2]
    assert x.shape == (10, 2, 34, 34) and x.dtype == torch.float32 and y.item() == 7
    # every event lands in a frame (tonic drops only an event exactly at t_max)
    assert x.sum().item() in (33, 34)
    # 10 ms windows over events at 0..33 ms: tonic keeps the 3 complete windows (30 events)
    window = datasets.get(
        "nmnist", root=tmp_path, time_window=10_000, first_saccade_only=True, download=False
    )
    assert window[0][0].shape == (3, 2, 34, 34) and window[0][0].sum().item() == 30


def test_frame_cache_is_reused(tmp_path: Path) -> None:
    write_nmnist(tmp_path, digits=(1,))
    ds = datasets.get("nmnist", root=tmp_path, time_bins=5, download=False)
    first = ds[0][0]
    assert (ds.cache.misses, ds.cache.hits) == (1, 0)
    # a new dataset with the same parameters reads the cached frames, not the events
    (tmp_path / "NMNIST" / "Train" / "1" / "00000.bin").write_bytes(nmnist_bytes([(0, 0, 0, 1)]))
    again = datasets.get("nmnist", root=tmp_path, time_bins=5, download=False)
    assert torch.equal(again[0][0], first)
    assert (again.cache.misses, again.cache.hits) == (0, 1)
    # other parameters: another cache directory
    other = datasets.get("nmnist", root=tmp_path, time_bins=6, download=False)
    assert other[0][0].shape[0] == 6 and other.cache.directory != ds.cache.directory
    assert not list(ds.cache.directory.glob("*.part"))
    # a read-only data root: the cache goes where cache_dir says
    elsewhere = datasets.get("nmnist", root=tmp_path, cache_dir=tmp_path / "c", download=False)
    elsewhere[1]
    assert elsewhere.cache.directory.parent == tmp_path / "c" / "Train"
    assert len(list(elsewhere.cache.directory.glob("*.npy"))) == 1


def test_nmnist_missing(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"no \.bin files in .*NMNIST/Test"):
        datasets.get("nmnist", root=tmp_path, train=False, download=False)


def test_bad_frame_options() -> None:
    with pytest.raises(ValueError, match="time_bins must be an integer >= 1, got 0"):
        FrameSpec(time_bins=0)
    with pytest.raises(ValueError, match="exactly one of time_bins and time_window"):
        FrameSpec(time_bins=5, time_window=1000.0)
    with pytest.raises(ValueError, match="denoise_us must be > 0"):
        FrameSpec(denoise_us=-1)


def test_digits_fixed_split() -> None:
    train, test = datasets.get("digits"), datasets.get("digits", train=False)
    assert (len(train), len(test)) == (1437, 360)
    x, _ = train[0]
    assert x.shape == (1, 8, 8) and x.dtype == torch.float32 and 0 <= x.min() <= x.max() <= 1
    counts = torch.bincount(test.targets, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37  # stratified
    assert train.targets[:5].tolist() == datasets.get("digits").targets[:5].tolist()


def test_digits_events_look_like_nmnist() -> None:
    image = datasets.get("digits").images[0].numpy()
    ev = saccade_events(image)
    assert ev.dtype.names == ("x", "y", "t", "p")
    assert ev["x"].min() >= 0 and ev["x"].max() < 34 and ev["y"].max() < 34
    assert ev["t"].min() > 0 and ev["t"].max() <= 300_000  # three 100 ms saccades
    assert 0.3 < ev["p"].mean() < 0.7  # ON and OFF events
    assert np.array_equal(saccade_events(image), ev)  # deterministic
    ds = datasets.get("digits_events", time_bins=12)
    x, y = ds[0]
    assert x.shape == (12, 2, 34, 34) and x.sum() > 1000 and y == ds.targets[0]
    first = datasets.get("digits_events", time_bins=3, first_saccade_only=True)[0][0]
    assert first.sum() < x.sum() / 2


def test_digits_upsampled_for_vgg() -> None:
    small, big = datasets.get("digits", train=False), datasets.get("digits", train=False, size=32)
    x, y = big[0]
    assert x.shape == (1, 32, 32) and y == small[0][1]
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # Bilinear upsampling by 4 keeps the mean brightness to within a few percent.
    assert abs(float(x.mean()) - float(small[0][0].mean())) < 0.05
    with pytest.raises(ValueError, match=r"size must be an integer >= 8.*got 4"):
        datasets.get("digits", size=4)
    with pytest.raises(ValueError, match=r"unknown options \['time_bins'\] for 'digits'"):
        datasets.get("digits", time_bins=3)
