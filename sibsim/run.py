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
from .outputs import FORMAT, column, is_model_output
from .spec import Scenario
from .summaries import NotKept, not_kept

PATH_TRIALS = 2_000  # trials whose per-period cash flows are kept for fan charts


def versions() -> dict[str, str]:
    from . import __version__
    from .tables import scipy_version  # read from scipy's files: a run need not import scipy

    return {"sibsim": __version__, "numpy": np.__version__, "scipy": scipy_version()}


def _frozen(d: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
    if isinstance(d, NotKept):
        return d
    for v in d.values():
        v.flags.writeable = False
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class ModelResult:
    """One finance model's per-trial results (see :meth:`Run.model`): plain names, declared in :mod:`sibsim.outputs`.

    An output the model does not have (investor IRR under fee for service) is absent, not zero.
    ``stats``: (metric summaries, probabilities) of a summary-only run, whose arrays are not kept.
    """

    name: str
    metrics: Mapping[str, np.ndarray]
    indicators: Mapping[str, np.ndarray]
    stats: tuple | None = None

    def __post_init__(self):
        object.__setattr__(self, "metrics", _frozen(self.metrics))
        object.__setattr__(self, "indicators", _frozen(self.indicators))

    @property
    def has_investors(self) -> bool:
        return "investor_net_gain" in self.metrics

    @functools.cached_property
    def _summaries(self) -> dict[str, dict[str, float]]:
        if self.stats is not None:
            return self.stats[0]
        return {k: summarise(v) for k, v in self.metrics.items()}

    def metric_summaries(self) -> dict[str, dict[str, float]]:
        return {k: dict(v) for k, v in self._summaries.items()}

    def probabilities(self) -> dict[str, dict[str, float]]:
        if self.stats is not None:
            return {k: dict(v) for k, v in self.stats[1].items()}
        return {k: probability(v) for k, v in self.indicators.items()}


@dataclass(frozen=True)
class Run:
    """The result of ``simulate``.

    metrics: name -> (trials,) per-trial metric: the outputs shared by every finance model plus the
        scenario's own model's; float64, counts int32 when every value is a whole number
    indicators: name -> (trials,) bool, likewise; their means are the run's probabilities
    models: finance model -> :class:`ModelResult` of that model's own outputs
        (the scenario's own first); :meth:`model` adds the shared ones
    params: parameter name -> (trials,) drawn value
    paths: party -> (min(trials, 2000), periods) float64 net cash per period (own model)
    kept: "all", or "summary" for a run of ``simulate(..., keep="summary")``: its ``metrics``,
        ``indicators`` and ``params`` hold names only (reading an array raises), its summaries come
        from ``stats`` (:class:`sibsim.summaries.Stats`) and :attr:`reservoir` is a uniform sample of trials
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
    models: Mapping[str, ModelResult] = field(default_factory=dict)
    kept: str = "all"
    stats: object = None

    @classmethod
    def summarised(cls, scenario: Scenario, *, seed: int, trials: int, stats, **kw) -> "Run":
        """A summary-only run (``keep="summary"``) from its :class:`sibsim.summaries.Stats`."""
        own = scenario.finance.model
        shared, mine = stats.shared, stats.models[own]
        models = {m: ModelResult(m, NotKept(ms), NotKept(ps), stats=(ms, ps)) for m, (ms, ps) in stats.models.items()}
        return cls(scenario=scenario, seed=seed, trials=trials, metrics=NotKept([*shared[0], *mine[0]]),
                   indicators=NotKept([*shared[1], *mine[1]]), params=NotKept(stats.params), models=models,
                   kept="summary", stats=stats, **kw)

    @property
    def reservoir(self):
        """A summary-only run's uniform sample of trials (:class:`sibsim.summaries.Reservoir`); None otherwise."""
        return None if self.stats is None else self.stats.reservoir

    def __post_init__(self):
        for name in ("metrics", "indicators", "params", "paths"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        object.__setattr__(self, "versions", MappingProxyType(dict(self.versions)))
        own = self.scenario.finance.model
        models = dict(self.models)
        if own not in models:  # built without per-model results: the declaration says which are the model's
            models[own] = ModelResult(own, {k: v for k, v in self.metrics.items() if is_model_output(k)},
                                      {k: v for k, v in self.indicators.items() if is_model_output(k)})
        models = {own: models.pop(own), **models}
        object.__setattr__(self, "models", MappingProxyType(models))
        object.__setattr__(self, "finance_models", tuple(models))

    def __repr__(self) -> str:
        tail = ", kept='summary'" if self.kept == "summary" else ""
        return f"Run({self.scenario.name!r}, trials={self.trials}, seed={self.seed}{tail})"

    @property
    def shared_metrics(self) -> Mapping[str, np.ndarray]:
        """Per-trial metrics that do not depend on the finance model (participants, outcomes, payments owed)."""
        own = self.models[self.finance_models[0]].metrics
        if self.kept == "summary":
            return NotKept(k for k in self.metrics if k not in own)
        return MappingProxyType({k: v for k, v in self.metrics.items() if k not in own})

    @property
    def shared_indicators(self) -> Mapping[str, np.ndarray]:
        own = self.models[self.finance_models[0]].indicators
        if self.kept == "summary":
            return NotKept(k for k in self.indicators if k not in own)
        return MappingProxyType({k: v for k, v in self.indicators.items() if k not in own})

    def model(self, name: str) -> ModelResult:
        """One finance model's results on this run's draws: shared outputs plus that model's own, plain names.

        ``run.model("pbr").metrics["commissioner_cost"]`` is the (trials,) public cost under direct
        payment by results. ``name`` must be one of :attr:`finance_models` (the scenario's own first).
        """
        if name not in self.models:
            raise KeyError(f"finance model {name!r} was not run; this run has {', '.join(self.finance_models)}")
        if name == self.finance_models[0]:
            return self._own
        r = self.models[name]
        if self.kept == "summary":
            ms, ps = self.stats.shared
            return ModelResult(name, NotKept([*self.shared_metrics, *r.metrics]),
                               NotKept([*self.shared_indicators, *r.indicators]),
                               stats=({**ms, **r.stats[0]}, {**ps, **r.stats[1]}))
        return ModelResult(name, {**self.shared_metrics, **r.metrics}, {**self.shared_indicators, **r.indicators})

    @functools.cached_property
    def _own(self) -> ModelResult:
        if self.kept == "summary":
            return ModelResult(self.finance_models[0], self.metrics, self.indicators,
                               stats=(self._summaries, self.probabilities()))
        return ModelResult(self.finance_models[0], self.metrics, self.indicators)

    @functools.cached_property
    def _summaries(self) -> dict[str, dict[str, float]]:
        if self.kept == "summary":
            return {**self.stats.shared[0], **self.stats.models[self.finance_models[0]][0]}
        return {k: summarise(v) for k, v in self.metrics.items()}  # a Run never changes: compute once

    def metric_summaries(self) -> dict[str, dict[str, float]]:
        return {k: dict(v) for k, v in self._summaries.items()}

    def probabilities(self) -> dict[str, dict[str, float]]:
        if self.kept == "summary":
            own = self.stats.models[self.finance_models[0]][1]
            return {k: dict(v) for k, v in {**self.stats.shared[1], **own}.items()}
        return {k: probability(v) for k, v in self.indicators.items()}

    def summary(self):
        """pandas DataFrame: one row per metric, columns mean, std, mcse, p5, p50, p95, nan."""
        import pandas as pd

        return pd.DataFrame.from_dict(self.metric_summaries(), orient="index", columns=list(SUMMARY_STATS))

    def per_trial(self) -> dict[str, np.ndarray]:
        """Every per-trial output in one flat mapping: shared and own model under plain names, other models'
        under ``<model>:<name>`` (:func:`sibsim.outputs.column`); what the evidence base stores.
        Counts held as integers are given as float64, as they were computed (the CSV and the store unchanged)."""
        if self.kept == "summary":
            raise not_kept("per_trial")
        cols = {k: v.astype(float) if v.dtype.kind in "iu" else v for k, v in self.metrics.items()}
        cols.update(self.indicators)
        for name in self.finance_models[1:]:
            r = self.models[name]
            cols.update({column(name, k): v.astype(float) if v.dtype.kind in "iu" else v
                         for d in (r.metrics, r.indicators) for k, v in d.items()})
        return cols

    def to_frame(self):
        """pandas DataFrame of :meth:`per_trial` and the parameter draws (``param.<name>``)."""
        import pandas as pd

        cols = self.per_trial()
        cols.update({f"param.{k}": v for k, v in self.params.items()})
        return pd.DataFrame(cols, index=pd.RangeIndex(self.trials, name="trial"))

    def to_dict(self) -> dict:
        """The run's JSON record (format 2; README, Command line).

        scenario, seed, trials, versions, ``metrics`` and ``probabilities`` (shared
        outputs and the scenario's own model's), timing, ``finance_models`` and
        ``models``: ``{name: {"metrics", "probabilities"}}`` of each model's own outputs; ``keep``
        ("all" or "summary") and, for a summary-only run, ``reservoir`` (its size and how the
        percentiles were obtained).
        """
        out = {
            "format": FORMAT,
            "scenario": {
                "name": self.scenario.name,
                "hash": self.scenario.content_hash,
                "canonical_json": self.scenario.canonical_json(),
            },
            "seed": self.seed,
            "trials": self.trials,
            "versions": dict(self.versions),
            "finance_models": list(self.finance_models),
            "metrics": self.metric_summaries(),
            "probabilities": self.probabilities(),
            "models": {name: {"metrics": ({k: dict(self._summaries[k]) for k in r.metrics}
                                          if name == self.finance_models[0] else r.metric_summaries()),
                              "probabilities": r.probabilities()} for name, r in self.models.items()},
            "timing": {"engine_seconds": self.engine_seconds},
            "keep": self.kept,
        }
        if self.kept == "summary":
            out["reservoir"] = self.stats.describe()
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        """The JSON text of :meth:`to_dict` (NaN written as null); also written to ``path`` if given."""
        text = json.dumps(_nan_to_none(self.to_dict()), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text


def _nan_to_none(x):
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x
