"""Where data lives, and fetching it: data root, checksummed downloads, offline errors."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

from ..files import removing_new_dirs
from ..progress import progress_bar

__all__ = ["MissingDataError", "data_root", "download", "extract", "md5sum"]

ENV_VAR = "SNNVAR_DATA"
"""Environment variable naming the data root."""


class MissingDataError(FileNotFoundError):
    """Data set files are missing and could not be downloaded."""


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """The data root: ``root``, else ``$SNNVAR_DATA``, else the user cache directory.

    The cache directory is ``$XDG_CACHE_HOME/snnvar/data`` (``~/.cache/snnvar/data``).
    """
    if root is not None:
        return Path(root).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "snnvar" / "data"


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    """The MD5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def download(
    urls: Sequence[str], dest: Path, md5: str, *, name: str, expected: Sequence[str]
) -> Path:
    """Download ``dest`` from the first URL that works and check its MD5.

    Offline, or when every mirror fails or the checksum does not match, raises
    :class:`MissingDataError` naming the files expected and where to put them.
    """
    with removing_new_dirs(dest.parent):  # offline: no empty data directories left
        dest.parent.mkdir(parents=True, exist_ok=True)
        errors = []
        for url in urls:
            tmp = Path(tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")[1])
            try:
                with urllib.request.urlopen(url, timeout=30) as response, open(tmp, "wb") as out:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    with progress_bar(
                        total=total, unit="B", unit_scale=True, desc=dest.name
                    ) as bar:
                        while block := response.read(1 << 20):
                            out.write(block)
                            bar.update(len(block))
                actual = md5sum(tmp)
                if actual != md5:
                    errors.append(f"{url}: checksum mismatch (md5 {actual}, expected {md5})")
                    continue
                tmp.replace(dest)
                return dest
            except (urllib.error.URLError, OSError, TimeoutError) as exc:
                errors.append(f"{url}: {exc}")
            finally:
                tmp.unlink(missing_ok=True)
        raise MissingDataError(
            f"{name}: could not download {dest.name} ({'; '.join(errors)}).\n"
            f"Put these files in {dest.parent}:\n  " + "\n  ".join(expected) + "\n"
            f"(download them by hand from {urls[0]}, or point root= / ${ENV_VAR} "
            "at a directory that has them)"
        )


def extract(archive: Path, into: Path) -> None:
    """Unpack a .tar.gz or .zip archive into ``into``, refusing paths that escape it."""
    into = into.resolve()
    if archive.name.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if not (into / member.name).resolve().is_relative_to(into):
                    raise ValueError(f"{archive}: unsafe path {member.name!r} in archive")
            tar.extractall(into)
    elif archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                if not (into / member).resolve().is_relative_to(into):
                    raise ValueError(f"{archive}: unsafe path {member!r} in archive")
            zf.extractall(into)
    else:
        raise ValueError(f"unknown archive format: {archive}")
