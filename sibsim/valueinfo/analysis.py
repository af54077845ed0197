"""``sibsim.voi(...)``: value of information for a scenario's commissioning decision, in one call (docs/voi.md).

Simulates the scenario under every finance model among the options (common
random numbers), builds the decision (:mod:`sibsim.decision`), and reports at
each willingness to pay: expected net benefit of each option and the best,
EVPI and its population value, EVPPI of each named parameter or group
(:mod:`.evpi`), and optionally EVSI and ENBS of a study over a range of sizes
(:mod:`.evsi`). The result is a plain value with :meth:`VoiResult.to_dict`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np

from ..decision import APPRAISAL, NONE, OPTIONS, Decision, check_options, decision, parse_wtp, wtp_key
from ..errors import UsageError
from . import perfect as _evpi
from . import sample as _evsi

DEFAULT_OPTIONS = ("sib", "pbr", "fee", NONE)
GROUP_SEP = "+"


@dataclass(frozen=True)
class Population:
    """How many decisions the information informs: ``decisions_per_year`` for ``years``, discounted."""

    decisions_per_year: float = 1.0
    years: int = 1
    discount_rate_annual: float = 0.035

    @property
    def factor(self) -> float:
        return _evpi.population(1.0, decisions_per_year=self.decisions_per_year, years=self.years,
                                discount_rate_annual=self.discount_rate_annual)


@dataclass(frozen=True)
class VoiResult:
    """Value-of-information results (GBP per decision unless ``population``)."""

    decision: Decision
    evpi: Mapping[str, _evpi.Estimate]
    evppi: Mapping[str, Mapping[str, _evpi.Estimate]]
    population: Population
    evsi: Mapping[str, _evsi.Curve] = field(default_factory=dict)
    study: _evsi.Study | None = None
    study_cost: _evsi.StudyCost | None = None
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = self.decision
        out = dict(self.meta)
        out.update({
            "options": list(d.options),
            "wtp": [wtp_key(w) for w in d.wtp],
            "expected_net_benefit": d.expected(),
            "best": d.best(),
            "evpi": {k: e.value for k, e in self.evpi.items()},
            "evpi_se": {k: e.se for k, e in self.evpi.items()},
            "population": {"decisions_per_year": self.population.decisions_per_year, "years": self.population.years,
                           "discount_rate_annual": self.population.discount_rate_annual,
                           "factor": self.population.factor},
            "population_evpi": {k: e.value * self.population.factor for k, e in self.evpi.items()},
            "evppi": {p: {k: e.value for k, e in v.items()} for p, v in self.evppi.items()},
            "evppi_se": {p: {k: e.se for k, e in v.items()} for p, v in self.evppi.items()},
        })
        if self.evsi:
            c0 = next(iter(self.evsi.values()))
            out["evsi"] = {
                "field": c0.field, "sizes": list(c0.sizes), "cost": list(c0.cost),
                "study": vars(self.study), "study_cost": vars(self.study_cost), "population_scaled": True,
                "by_wtp": {k: {"evsi": list(c.evsi), "evsi_se": list(c.evsi_se), "enbs": list(c.enbs),
                               "optimal": c.optimal} for k, c in self.evsi.items()},
            }
        return out

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(_finite(self.to_dict()), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    def table(self):
        """pandas DataFrame, one row per willingness to pay: best option, EVPI, population EVPI, EVPPI columns."""
        import pandas as pd

        rows = []
        best = self.decision.best()
        for k, e in self.evpi.items():
            row = {"wtp": k, "best": best[k], "evpi": e.value, "evpi_se": e.se,
                   "population_evpi": e.value * self.population.factor}
            row.update({f"evppi[{p}]": v[k].value for p, v in self.evppi.items()})
            rows.append(row)
        return pd.DataFrame(rows)


def _finite(x):
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def parse_groups(spec, params: Mapping[str, np.ndarray]) -> dict[str, tuple[str, ...]]:
    """EVPPI targets: None -> each uncertain parameter; else names, ``a+b`` groups, or ``all``."""
    uncertain = [k for k in sorted(params) if np.std(params[k]) > 0]
    if spec is None:
        return {k: (k,) for k in uncertain}
    if isinstance(spec, str):
        spec = [s for s in spec.split(",") if s.strip()]
    out = {}
    for item in spec:
        names = tuple(uncertain) if item.strip() == "all" else tuple(s.strip() for s in item.split(GROUP_SEP))
        for nm in names:
            if nm not in params:
                raise UsageError(f"--evppi: {nm!r} is not a parameter; parameters: {', '.join(sorted(params))} "
                                 f"(join a group with '+', or 'all')")
        out[item.strip()] = names
    return out


def analyse(dec: Decision, *, evppi=None, rng: np.random.Generator, draws: int = 200):
    """(EVPI by wtp, EVPPI by target and wtp) of a Decision."""
    ev = {k: _evpi.evpi(nb) for k, nb in dec.nb.items()}
    groups = parse_groups(evppi, dec.params)
    out = {}
    for name, names in groups.items():
        X = np.column_stack([dec.params[n] for n in names])
        X = X[:, X.std(axis=0) > 0]
        out[name] = {k: (_evpi.evppi(nb, X, rng=rng, draws=draws) if X.shape[1] else _evpi.Estimate(0.0, 0.0))
                     for k, nb in dec.nb.items()}
    return ev, out


def voi(scenario, *, options=DEFAULT_OPTIONS, wtp=None, evppi=None, evsi: str | None = None,
        study: _evsi.Study | None = None, study_cost: _evsi.StudyCost | None = None,
        population: Population = Population(), trials: int = 4_000, seed: int = 1, draws: int = 200,
        run=None) -> VoiResult:
    """Value of information for ``scenario`` (a Scenario or a path), or for a given ``run``.

    options: finance models and ``none``; wtp: willingness-to-pay values (GBP
    per additional outcome, or ``appraisal``; default: the appraisal's
    ``wtp_grid``, plus ``appraisal`` when the scenario values outcomes);
    evppi: parameter names, ``a+b`` groups or ``all`` (default: each uncertain
    parameter); evsi: ``'comparison_size=100:2000:100'`` (a study design field
    and its sizes, the other fields from ``study``).
    """
    from threadpoolctl import threadpool_limits

    from ..engine import simulate
    from ..spec import Scenario, load

    if isinstance(options, str):
        options = [o for o in options.split(",") if o.strip()]
    options = list(check_options(options, run.finance_models if run is not None else OPTIONS[:-1]))
    if run is None:
        sc = scenario if isinstance(scenario, Scenario) else load(scenario)
        models = [o for o in options if o != NONE]
        run = simulate(sc, trials=trials, seed=seed, finance=tuple(models))
    sc = run.scenario
    if wtp is None:
        ap = sc.appraisal
        wtp = list(ap.wtp_grid) if ap is not None else [0.0, 10_000.0, 30_000.0]
        if ap is not None and ap.value_per_outcome:
            wtp.append(APPRAISAL)
    dec = decision(run, options=options, wtp=parse_wtp(wtp))
    rng = np.random.default_rng(np.random.SeedSequence(run.seed, spawn_key=(31,)))
    curves = {}
    study = study or _evsi.Study()
    study_cost = study_cost or _evsi.StudyCost()
    with threadpool_limits(limits=1, user_api="blas"):  # small matrices: BLAS threads only contend
        ev, pp = analyse(dec, evppi=evppi, rng=rng, draws=draws)
        if evsi:
            fld, sizes = _evsi.parse_range(evsi)
            curves = _evsi.curves(sc, dec.params, dec.nb, field=fld, sizes=sizes, base=study, cost=study_cost,
                                  seed=run.seed, rng=rng, scale=population.factor, draws=draws)
    meta = {"scenario": {"name": sc.name, "hash": sc.content_hash}, "currency": sc.currency, "seed": run.seed,
            "trials": run.trials,
            "method": {"evpi": "mean(max) - max(mean) over trials",
                       "evppi": "regression (Strong, Oakley & Brennan 2014): P-spline GAM for 1-2 parameters, "
                                "Gaussian process above",
                       "evsi": "regression on simulated study statistics (Strong, Brennan & Oakley 2015)"}}
    return VoiResult(decision=dec, evpi=ev, evppi=pp, population=population, evsi=curves,
                     study=study if evsi else None, study_cost=study_cost if evsi else None, meta=meta)
