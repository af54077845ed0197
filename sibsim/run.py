"""Run: the immutable result of a simulation, with its provenance.

Labels (pandas) are added here at the edge; the core works in arrays.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .metrics import SUMMARY_STATS, probability, summarise
from .spec import Scenario

PATH_TRIALS = 2_000  # trials whose per-period cash flows are kept for fan charts


def versions() -> dict[str, str]:
    import scipy

    from . import __version__

    return {"sibsim": __version__, "numpy": np.__version__, "scipy": scipy.__version__}


def _frozen(d: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    for v in d.values():
        v.flags.writeable = False
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class Run:
    """The result of ``simulate``.

    metrics: name -> (trials,) float64 per-trial metric
    indicators: name -> (trials,) bool; their means are the run's probabilities
    params: parameter name -> (trials,) drawn value
    paths: party -> (min(trials, 2000), periods) float64 net cash per period
    """

    scenario: Scenario
    seed: int
    trials: int
    metrics: Mapping[str, np.ndarray]
    indicators: Mapping[str, np.ndarray]
    params: Mapping[str, np.ndarray]
    paths: Mapping[str, np.ndarray] = field(default_factory=dict)
    engine_seconds: float = 0.0
    versions: Mapping[str, str] = field(default_factory=dict)
    finance_models: tuple[str, ...] = ()

    def __post_init__(self):
        for name in ("metrics", "indicators", "params", "paths"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))

        if not self.finance_models:
            object.__setattr__(self, "finance_models", (self.scenario.finance.model,))

    def __repr__(self) -> str:
        return f"Run({self.scenario.name!r}, trials={self.trials}, seed={self.seed})"

    def model(self, name: str) -> "ModelResult":
        """One finance model's results on this run's draws: shared outputs plus that model's own, plain names.

        ``run.model("pbr").metrics["commissioner_cost"]`` is the (trials,) public cost under direct
        payment by results. ``name`` must be one of :attr:`finance_models` (the scenario's own first).
        """
        if name not in self.finance_models:
            raise KeyError(f"finance model {name!r} was not run; this run has {', '.join(self.finance_models)}")
        own = name == self.finance_models[0]
        others = tuple(m + "." for m in self.finance_models[1:])

        def pick(d):
            base = {k: v for k, v in d.items() if not k.startswith(others)}
            if not own:
                base.update({k[len(name) + 1:]: v for k, v in d.items() if k.startswith(name + ".")})
            return MappingProxyType(base)

        return ModelResult(name=name, metrics=pick(self.metrics), indicators=pick(self.indicators))

    @functools.cached_property
    def _summaries(self) -> dict[str, dict[str, float]]:
        return {k: summarise(v) for k, v in self.metrics.items()}  # a Run never changes: compute once

    def metric_summaries(self) -> dict[str, dict[str, float]]:
        return {k: dict(v) for k, v in self._summaries.items()}

    def probabilities(self) -> dict[str, dict[str, float]]:
        return {k: probability(v) for k, v in self.indicators.items()}

    def summary(self):
        """pandas DataFrame: one row per metric, columns mean, std, mcse, p5, p50, p95, nan."""
        import pandas as pd

        return pd.DataFrame.from_dict(self.metric_summaries(), orient="index", columns=list(SUMMARY_STATS))

    def to_frame(self):
        """pandas DataFrame of per-trial metrics, indicators and parameter draws (``param.<name>``)."""
        import pandas as pd

        cols = dict(self.metrics)
        cols.update(self.indicators)
        cols.update({f"param.{k}": v for k, v in self.params.items()})
        return pd.DataFrame(cols, index=pd.RangeIndex(self.trials, name="trial"))

    def to_dict(self) -> dict:
        """The run's JSON record (README, Command line): scenario, seed, trials, versions, metrics, probabilities, timing."""
        return {
            "scenario": {
                "name": self.scenario.name,
                "hash": self.scenario.content_hash,
                "canonical_json": self.scenario.canonical_json(),
            },
            "seed": self.seed,
            "trials": self.trials,
            "versions": dict(self.versions),
            "metrics": self.metric_summaries(),
            "probabilities": self.probabilities(),
            "timing": {"engine_seconds": self.engine_seconds},
        }

    def to_json(self, path: str | Path | None = None) -> str:
        """The JSON text of :meth:`to_dict` (NaN written as null); also written to ``path`` if given."""
        text = json.dumps(_nan_to_none(self.to_dict()), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


@dataclass(frozen=True)
class ModelResult:
    """One finance model's per-trial results (see :meth:`Run.model`)."""

    name: str
    metrics: Mapping[str, np.ndarray]
    indicators: Mapping[str, np.ndarray]

    def metric_summaries(self) -> dict[str, dict[str, float]]:
        return {k: summarise(v) for k, v in self.metrics.items()}

    def probabilities(self) -> dict[str, dict[str, float]]:
        return {k: probability(v) for k, v in self.indicators.items()}


def _nan_to_none(x):
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
