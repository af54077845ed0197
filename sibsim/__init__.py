"""sibsim: Monte Carlo simulation of Social Impact Bonds and their alternatives.

The public API for notebooks and scripts::

    import sibsim
    sc = sibsim.load("scenarios/benchmark.yaml")
    run = sibsim.simulate(sc.with_params(job_entry_uplift=0.12), trials=10_000, seed=1)
    run.summary()          # pandas DataFrame of metric summaries
    run.to_frame()         # per-trial metrics
    run.to_json("out.json")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import ScenarioError, SibsimError, UsageError
from .spec import Scenario, load, loads

__all__ = ["Run", "Scenario", "ScenarioError", "SibsimError", "UsageError", "__version__", "load", "loads", "reforecast", "simulate"]


def __getattr__(name):
    # the engine pulls in more of numpy/scipy; import it on first use
    if name in ("simulate", "Run"):
        from . import engine, run

        return {"simulate": engine.simulate, "Run": run.Run}[name]
    if name == "reforecast":  # issue 11: re-forecast a running contract (sibsim.reforecasting)
        from .reforecasting import reforecast

        return reforecast
    raise AttributeError(name)
