"""Streaming summaries of a run that keeps no per-trial results (``keep="summary"``; README, ``--keep``).

A long run need not hold every trial to report what ``sibsim run`` prints and its JSON holds:

- **means, standard deviations, Monte Carlo errors** (every trial): each chunk's count, mean and sum of
  squared deviations from its mean (M2, two-pass within the chunk), merged chunk by chunk in trial order
  with Chan, Golub and LeVeque's parallel update (no sum of squares is ever formed, so no cancellation);
  they agree with numpy on the full arrays to rounding (about 1e-15 relative). Infinite values are
  counted apart, so a mean or sd is infinite or undefined exactly when numpy's would be;
- **undefined counts and probabilities** (every trial): exact counts;
- **paired differences between finance models** (every trial): the same moments of the per-trial
  differences;
- **percentiles** (P5/P50/P95): from a **reservoir**, a uniform random sample without replacement of
  ``size`` trials (default 100,000). Trial ``i`` gets a key ``u_i``, a uniform from its own stream of
  the seed tree (:data:`RESERVOIR`, :mod:`sibsim.draw`), and the reservoir keeps the ``size`` trials
  with the smallest keys (bottom-k sampling). Which trials are kept depends only on (seed, trials,
  size), not on chunk size or workers; a run of at most ``size`` trials keeps every trial, so its
  percentiles are exact. Otherwise a sample percentile ``q`` of level ``p`` is approximate: the share of
  all trials below it is ``p`` within about ``sqrt(p (1 - p) / k)`` (one standard error; ``k`` the
  reservoir's defined values), 0.07 percentage points for P5 and P95 and 0.16 for P50 at 100,000.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from . import draw
from .errors import SibsimError

RESERVOIR_SIZE = 100_000
RESERVOIR = 9  # the reservoir keys' stream in the seed tree (sibsim.draw)
KEEP = ("all", "summary")


def not_kept(name: str) -> SibsimError:
    return SibsimError(f"{name!r}: this run kept summaries only (keep='summary', --keep summary), not every trial; "
                       "per-trial results need keep='all' (the default) -- run.reservoir holds a uniform sample")


class NotKept(Mapping):
    """The names of a summary-only run's per-trial outputs; reading an array raises :func:`not_kept`."""

    def __init__(self, names):
        self._names = tuple(dict.fromkeys(names))

    def __getitem__(self, k):
        if k in self._names:
            raise not_kept(k)
        raise KeyError(k)

    def __contains__(self, k):
        return k in self._names

    def __iter__(self):
        return iter(self._names)

    def __len__(self):
        return len(self._names)

    def __repr__(self):
        return f"NotKept({list(self._names)!r})"


@dataclass
class Moments:
    """Count, mean and M2 of the finite values; NaN and infinite values counted apart.

    Fed with :meth:`add`, values are taken about ``shift`` (the first chunk's mean), so that the means
    merged are small beside the spread and their difference loses nothing (a metric of 1e9 +- 1 keeps
    its sd to rounding).
    """

    n: int = 0  # finite values
    mean: float = 0.0
    m2: float = 0.0
    nan: int = 0
    pos_inf: int = 0
    neg_inf: int = 0
    shift: float = 0.0

    def add(self, x) -> None:
        """Merge the values ``x`` (the next chunk, in trial order)."""
        x = np.asarray(x, dtype=float)
        if self.n == 0 and self.shift == 0.0:
            fin = x[np.isfinite(x)]
            if fin.size:
                self.shift = float(fin.mean())
        self.merge(Moments.of(x - self.shift) if self.shift else Moments.of(x))

    @classmethod
    def of(cls, x) -> "Moments":
        x = np.asarray(x, dtype=float)
        fin = np.isfinite(x)
        ok = x[fin]
        nan = int(np.isnan(x).sum()) if ok.size < x.size else 0
        pos = int(np.isposinf(x).sum()) if ok.size + nan < x.size else 0
        m = cls(int(ok.size), 0.0, 0.0, nan, pos, int(x.size - ok.size - nan - pos))
        if ok.size:
            m.mean = float(ok.mean())
            d = ok - m.mean
            m.m2 = float(d @ d)
        return m

    def merge(self, o: "Moments") -> None:
        self.nan += o.nan
        self.pos_inf += o.pos_inf
        self.neg_inf += o.neg_inf
        if o.n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2 = o.n, o.mean, o.m2
            return
        n = self.n + o.n
        delta = o.mean - self.mean
        self.mean += delta * (o.n / n)
        self.m2 += o.m2 + delta * delta * (self.n * (o.n / n))
        self.n = n

    @property
    def defined(self) -> int:
        return self.n + self.pos_inf + self.neg_inf

    def stats(self) -> tuple[float, float]:
        """(mean, sd with ddof 1) of the defined values, as numpy gives them on the full array."""
        k = self.defined
        if k == 0:
            return math.nan, math.nan
        if self.pos_inf or self.neg_inf:
            mean = math.nan if self.pos_inf and self.neg_inf else (math.inf if self.pos_inf else -math.inf)
            return mean, (math.nan if k > 1 else 0.0)
        return self.shift + self.mean, (math.sqrt(self.m2 / (k - 1)) if k > 1 else 0.0)


def summary_of(m: Moments, sample: np.ndarray | None) -> dict[str, float]:
    """:func:`sibsim.metrics.summarise`'s dict from streamed moments and the reservoir's values."""
    mean, sd = m.stats()
    out = dict(mean=mean, std=sd, mcse=sd / math.sqrt(m.defined) if m.defined else math.nan,
               p5=math.nan, p50=math.nan, p95=math.nan, nan=m.nan)
    if sample is not None:
        s = np.asarray(sample, dtype=float)
        s = s[~np.isnan(s)]
        if s.size:
            out["p5"], out["p50"], out["p95"] = (float(v) for v in np.percentile(s, [5, 50, 95]))
    return out


def probability_of(count: int, n: int) -> dict[str, float]:
    p = count / n if n else math.nan
    return {"p": p, "se": math.sqrt(p * (1 - p) / n) if n else math.nan}


def reservoir_keys(seed: int, a: int, b: int) -> np.ndarray:
    """The keys of trials ``a .. b-1`` (uniforms on [0, 1) addressed by (seed, stream, block) as every draw)."""
    b0, b1 = a // draw.BLOCK, -(-b // draw.BLOCK)
    u = draw.BlockDraws(seed, b0, b1 - b0).uniform(RESERVOIR)
    off = a - b0 * draw.BLOCK
    return u[off:off + (b - a)]


def _columns(part: dict) -> dict[tuple, np.ndarray]:
    """A chunk's per-trial arrays under flat keys: (group, name) or ("models", model, group, name)."""
    cols = {(g, k): v for g in ("metrics", "indicators", "params") for k, v in part[g].items()}
    for m, r in part["models"].items():
        cols.update({("models", m, g, k): v for g in ("metrics", "indicators") for k, v in r[g].items()})
    return cols


@dataclass(frozen=True)
class Reservoir:
    """A uniform sample of a run's trials (sorted by trial): ``trial`` their indices, then the arrays
    of :class:`sibsim.run.Run` (``metrics`` and ``indicators``: shared and the own model's; ``params``)
    and ``models`` (model -> (metrics, indicators) of that model's own outputs)."""

    size: int
    trial: np.ndarray
    metrics: dict
    indicators: dict
    params: dict
    models: dict


@dataclass
class Summary:
    """What a summary-only run keeps, fed chunk by chunk in trial order (:meth:`add`), read by :meth:`finish`."""

    seed: int
    trials: int
    own: str
    size: int = RESERVOIR_SIZE
    moments: dict = field(default_factory=dict)  # flat column key -> Moments (metrics)
    counts: dict = field(default_factory=dict)  # flat column key -> [true count, n] (indicators)
    diffs: dict = field(default_factory=dict)  # (model, name) -> Moments of model - own
    _buf: list = field(default_factory=list)  # [(trial indices, keys, {column: values})]
    _held: int = 0
    _threshold: float = math.inf

    def add(self, part: dict, a: int, b: int) -> None:
        cols = _columns(part)
        for key, v in cols.items():
            if key[-2] == "indicators":
                c = self.counts.setdefault(key, [0, 0])
                c[0] += int(np.count_nonzero(v))
                c[1] += v.size
            elif key[0] != "params":
                self.moments.setdefault(key, Moments()).add(v)
        own = {k: v for k, v in part["models"].get(self.own, {}).get("metrics", {}).items()}
        for m, r in part["models"].items():
            if m == self.own:
                continue
            for k, v in r["metrics"].items():
                if k in own:
                    self.diffs.setdefault((m, k), Moments()).add(np.asarray(v, float) - np.asarray(own[k], float))
        keys = reservoir_keys(self.seed, a, b)
        sel = np.flatnonzero(keys < self._threshold)
        if sel.size:
            self._buf.append((a + sel, keys[sel], {k: v[sel] for k, v in cols.items()}))
            self._held += sel.size
            if self._held >= 2 * self.size:
                self._trim()

    def _trim(self) -> None:
        trial = np.concatenate([t for t, _, _ in self._buf])
        keys = np.concatenate([k for _, k, _ in self._buf])
        cols = {c: np.concatenate([d[c] for _, _, d in self._buf]) for c in self._buf[0][2]}
        if trial.size > self.size:
            keep = np.argpartition(keys, self.size - 1)[:self.size]
            keep.sort()  # trial order
            trial, keys, cols = trial[keep], keys[keep], {c: v[keep] for c, v in cols.items()}
        if trial.size >= self.size:
            self._threshold = float(keys.max())
        self._buf = [(trial, keys, cols)]
        self._held = trial.size

    def finish(self) -> "Stats":
        if self._buf:
            self._trim()
        trial, _, cols = self._buf[0] if self._buf else (np.empty(0, np.int64), None, {})
        per_model = {m: ({k[3]: v for k, v in cols.items() if k[:3] == ("models", m, "metrics")},
                         {k[3]: v for k, v in cols.items() if k[:3] == ("models", m, "indicators")})
                     for m in dict.fromkeys(k[1] for k in cols if k[0] == "models")}
        mine = per_model.get(self.own, ({}, {}))
        res = Reservoir(self.size, trial, {**{k[1]: v for k, v in cols.items() if k[0] == "metrics"}, **mine[0]},
                        {**{k[1]: v for k, v in cols.items() if k[0] == "indicators"}, **mine[1]},
                        {k[1]: v for k, v in cols.items() if k[0] == "params"}, per_model)
        shared = ({k[1]: summary_of(m, cols.get(k)) for k, m in self.moments.items() if k[0] == "metrics"},
                  {k[1]: probability_of(*c) for k, c in self.counts.items() if k[0] == "indicators"})
        models = {}
        for key, m in self.moments.items():
            if key[0] == "models":
                models.setdefault(key[1], ({}, {}))[0][key[3]] = summary_of(m, cols.get(key))
        for key, c in self.counts.items():
            if key[0] == "models":
                models.setdefault(key[1], ({}, {}))[1][key[3]] = probability_of(*c)
        diffs: dict = {}
        for (m, k), mo in self.diffs.items():
            mean, sd = mo.stats()
            k_def = mo.defined
            diffs.setdefault(m, {})[k] = {"difference": mean, "se": sd / math.sqrt(k_def) if k_def > 1 else math.nan,
                                          "n": k_def}
        params = [k[1] for k in cols if k[0] == "params"] if cols else []
        return Stats(self.trials, self.size, shared, models, diffs, res, params)


@dataclass(frozen=True)
class Stats:
    """A summary-only run's results: ``shared`` (metric summaries, probabilities) of the shared outputs,
    ``models``: model -> (metric summaries, probabilities) of its own outputs, ``differences``: model ->
    {name: paired difference from the own model} (:func:`sibsim.views.paired_difference`), ``reservoir``."""

    trials: int
    size: int
    shared: tuple
    models: dict
    differences: dict
    reservoir: Reservoir
    params: list

    @property
    def exact_percentiles(self) -> bool:
        return self.trials <= self.size

    def describe(self) -> dict:
        """The JSON's ``reservoir`` entry: its size and how the percentiles were obtained."""
        kept = min(self.trials, self.size)
        how = ("exact: the reservoir holds every trial" if self.exact_percentiles else
               f"estimated from a uniform random sample of {kept:,} of the {self.trials:,} trials (reservoir "
               "sampling seeded by the run's seed); the share of all trials below a sample percentile of level p "
               "is p within about sqrt(p(1-p)/k), k the sample's defined values")
        return {"size": self.size, "trials_kept": kept, "percentiles": how,
                "exact": "mean, std, mcse, nan and probabilities use every trial"}
