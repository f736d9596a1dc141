"""MNIST / Fashion-MNIST (IDX) and CIFAR-10/100 (pickles) from fake files."""

from __future__ import annotations

import gzip
import hashlib
import io
import urllib.error
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from snnvar import datasets
from snnvar.datasets import MissingDataError
from tests.datasets.fakes import idx_bytes, write_cifar10, write_cifar100, write_mnist


@pytest.mark.parametrize(("name", "gz"), [("mnist", True), ("fashion_mnist", False)])
def test_idx_sets_load(tmp_path: Path, name: str, gz: bool) -> None:
    write_mnist(tmp_path / name, gz=gz)
    train = datasets.get(name, root=tmp_path, download=False)
    test = datasets.get(name, root=tmp_path, train=False, download=False)
    assert len(train) == 6 and len(test) == 4
    x, y = train[3]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert x.min() >= 0 and x.max() <= 1 and x.max() > 0.9
    assert y.dtype == torch.int64 and y.item() == 3


def test_root_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mnist(tmp_path / "mnist")
    monkeypatch.setenv("SNNVAR_DATA", str(tmp_path))
    assert len(datasets.get("mnist", download=False)) == 6
    assert datasets.data_root() == tmp_path


def test_bad_idx_magic_names_the_file(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist")
    bad = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x12\x34\x56\x78" + bytes(100)))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: bad IDX magic"):
        datasets.get("mnist", root=tmp_path, download=False)


def test_truncated_idx_names_the_file(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist", gz=False)
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte: IDX header says shape"):
        datasets.get("mnist", root=tmp_path, train=False, download=False)


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError, match=r"train-images-idx3-ubyte\.gz") as info:
        datasets.get("mnist", root=tmp_path, download=False)
    assert str(tmp_path / "mnist") in str(info.value)


def offline(*_args, **_kwargs):
    raise urllib.error.URLError("network is unreachable")


def test_offline_download_says_where_to_put_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(MissingDataError) as info:
        datasets.get("fashion_mnist", root=tmp_path)
    message = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert "network is unreachable" in message
    assert f"Put these files in {tmp_path / 'fashion_mnist'}" in message
    assert "t10k-labels-idx1-ubyte.gz" in message
    # nothing partial left behind, not even the directory the download made
    assert not (tmp_path / "fashion_mnist").exists()
    assert list(tmp_path.iterdir()) == []


class FakeResponse(io.BytesIO):
    headers: ClassVar[dict[str, str]] = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_verifies_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from snnvar.datasets import images

    payload = gzip.compress(idx_bytes(torch.arange(10).numpy() % 10))
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: FakeResponse(payload))
    with pytest.raises(MissingDataError, match="checksum mismatch"):
        datasets.get("mnist", root=tmp_path)
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()
    # with the right checksum the file is installed
    md5 = hashlib.md5(payload).hexdigest()
    files = dict(images.MNIST_SPEC.files)
    files["train/labels"] = ("train-labels-idx1-ubyte.gz", md5)
    spec = images._IdxSpec("mnist", images.MNIST_SPEC.mirrors, files, images.MNIST_SPEC.classes)
    write_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match="expected images \\[N, H, W\\] and labels \\[N\\]"):
        images.IdxImages(spec, tmp_path, train=True, download_missing=True)
    assert (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes() == payload


def test_cifar10_full_and_partial(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, {f"data_batch_{i}": 3 for i in range(1, 6)} | {"test_batch": 2})
    train = datasets.get("cifar10", root=tmp_path, download=False)
    assert len(train) == 15 and train.classes[:2] == ["class0", "class1"]
    x, y = train[4]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y.item() == 1  # batch 2, item 1
    assert x.min() >= 0 and x.max() <= 1
    (folder / "data_batch_5").unlink()
    (folder / "data_batch_2").unlink()
    with pytest.warns(
        UserWarning, match=r"partial set.*missing \['data_batch_2', 'data_batch_5'\]"
    ):
        assert len(datasets.get("cifar10", root=tmp_path, download=False)) == 9
    assert len(datasets.get("cifar10", root=tmp_path, train=False, download=False)) == 2


def test_cifar100(tmp_path: Path) -> None:
    write_cifar100(tmp_path / "cifar-100-python")
    test = datasets.get("cifar100", root=tmp_path, train=False, download=False)
    assert len(test) == 5 and test[1][1].item() == 17 and len(test.classes) == 100


def test_cifar_wrong_keys_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10(folder, {"test_batch": 2})
    import pickle

    (folder / "test_batch").write_bytes(pickle.dumps({b"images": [], b"labels": []}))
    with pytest.raises(ValueError, match=r"test_batch: expected keys b'data' and b'labels'"):
        datasets.get("cifar10", root=tmp_path, train=False, download=False)
    (folder / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="test_batch: not a CIFAR python-pickle batch"):
        datasets.get("cifar10", root=tmp_path, train=False, download=False)


def test_cifar_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(MissingDataError, match=r"cifar-10-python\.tar\.gz"):
        datasets.get("cifar10", root=tmp_path)


def test_unknown_name_and_option() -> None:
    with pytest.raises(ValueError, match=r"unknown data set 'imagenet'; available: \['mnist'"):
        datasets.get("imagenet")
    with pytest.raises(ValueError, match=r"unknown options \['time_bins'\] for 'mnist'"):
        datasets.get("mnist", time_bins=5)
