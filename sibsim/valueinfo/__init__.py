"""Value of information: what better evidence is worth to the commissioner's decision (docs/voi.md).

* :mod:`.perfect`: EVPI from per-trial net benefits; EVPPI of parameters and
  groups by regression (Strong, Oakley and Brennan 2014); population values.
* :mod:`.smooth`: the regressions (P-spline GAM, Gaussian process).
* :mod:`.sample`: EVSI of a pilot and comparison-group study by regression on
  simulated study statistics (Strong, Brennan and Oakley 2015), ENBS, optimal size.
* :mod:`.design`: the measurement design of a measured-outcome contract
  (comparison-group size and trigger against the parties' risks and costs).
* :mod:`.analysis`: :func:`voi`, the front door (``sibsim.voi``, ``sibsim voi``).

The decision itself (options, willingness to pay, net benefit) is
:mod:`sibsim.decision`.
"""

from __future__ import annotations

from .analysis import Population, VoiResult, voi
from .perfect import Estimate, evpi, evppi, population
from .sample import Study, StudyCost

__all__ = ["Estimate", "Population", "Study", "StudyCost", "VoiResult", "evpi", "evppi", "population", "voi"]
