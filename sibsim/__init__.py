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

__all__ = ["Run", "Scenario", "ScenarioError", "SibsimError", "UsageError", "__version__", "load", "loads", "reforecast", "simulate", "voi"]

# Start-up (issue 15): nothing heavy at import. The scenario model (pydantic), the
# distributions (scipy.special) and the engine load on first use, so ``sibsim --help``
# and argument errors cost little more than Python itself. name -> (module, attribute)
_LAZY = {
    "Scenario": ("spec", "Scenario"), "load": ("spec", "load"), "loads": ("spec", "loads"),
    "simulate": ("engine", "simulate"), "Run": ("run", "Run"),
    "voi": ("valueinfo", "voi"),  # value of information (docs/voi.md)
    "reforecast": ("reforecasting", "reforecast"),  # a running contract re-forecast (docs/monitoring.md)
}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        mod, attr = _LAZY[name]
        value = getattr(importlib.import_module(f".{mod}", __name__), attr)
        globals()[name] = value  # later look-ups skip this function
        return value
    if not name.startswith("_"):  # a submodule, e.g. sibsim.spec.to_dict(...)
        try:
            return importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'sibsim' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
