"""A cache on disk for tables sibsim computes once per prior (issue 15: start-up).

A beta prior's inverse CDF is tabulated with ``scipy.special.betaincinv`` on 8,192 normal scores
(:func:`sibsim.dists.beta_ppf`). Computing the table takes longer than a one-trial run, and importing
scipy for it longer still, so each table is kept in a small ``.npy`` file and later runs read it back:
the numbers are the very ones scipy computed, so a run gives the same per-trial results with the cache
cold, warm or switched off.

Where: ``$SIBSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/sibsim``, else ``~/.cache/sibsim``; set
``SIBSIM_CACHE_DIR=off`` to switch it off. A table's key names what it tabulates and the scipy
version that computed it, so a scipy upgrade computes afresh. A file that cannot be read, has the
wrong shape or fails the caller's check is ignored and replaced; a cache that cannot be written is
skipped without a word (the run goes on, computing in memory). Files are written to a temporary
name and renamed, so concurrent runs and workers never read half a table.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

FORMAT = 1  # bump when a table's layout changes


def cache_dir() -> Path | None:
    """The cache directory, or None when switched off."""
    env = os.environ.get("SIBSIM_CACHE_DIR")
    if env is not None:
        return None if env.strip().lower() in ("", "off", "0", "none") else Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "sibsim"


def scipy_version() -> str:
    """The installed scipy's version, read from its files without importing it ("none" if absent)."""
    try:
        spec = importlib.util.find_spec("scipy")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "none"
    try:
        text = (Path(list(spec.submodule_search_locations)[0]) / "version.py").read_text()
    except OSError:
        return "unknown"
    m = re.search(r"""^(?:full_)?version\s*=\s*['"]([^'"]+)['"]""", text, re.M)
    return m.group(1) if m else "unknown"


def _path(key: str) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(f"{FORMAT}|{key}|scipy {scipy_version()}".encode()).hexdigest()[:32]
    return folder / f"table-{digest}.npy"


def _read(path: Path, n: int, check: Callable[[np.ndarray], bool]) -> np.ndarray | None:
    try:
        x = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if x.dtype != np.float64 or x.shape != (n,) or not np.all(np.isfinite(x)) or not check(x):
        return None
    return x


def _write(path: Path, x: np.ndarray) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".table-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, x, allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
    except OSError:
        pass  # a cache that cannot be written is not an error: the table is in memory


def cached(key: str, n: int, compute: Callable[[], np.ndarray],
           check: Callable[[np.ndarray], bool] = lambda x: True) -> np.ndarray:
    """The table ``key`` (``n`` float64 values): read from the cache, else ``compute()``d and stored."""
    path = _path(key)
    if path is not None:
        x = _read(path, n, check)
        if x is not None:
            x.flags.writeable = False
            return x
    x = np.ascontiguousarray(compute(), dtype=np.float64)
    if path is not None and x.shape == (n,) and np.all(np.isfinite(x)) and check(x):
        _write(path, x)
    x.flags.writeable = False
    return x
