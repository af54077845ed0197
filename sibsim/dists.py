"""Prior kinds for uncertain parameters, sampled by inverse CDF from uniforms.

Every prior is a small frozen pydantic model that validates its arguments on
construction (as Ciw's distributions do), knows its own mean and variance, and
turns an array of uniforms into draws with :meth:`ppf`. Sampling through the
inverse CDF is what lets a Gaussian copula correlate any mix of kinds, and lets
every trial's parameters come from one fixed block of uniforms (docs/model.md s.2).
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .screening import MAX_ABS, screen_inputs



class _Lazy:
    """``scipy.special``, imported on first use (issue 15: start-up pays only for what a run uses)."""

    def __getattr__(self, name):
        from scipy import special as module

        return getattr(module, name)


special = _Lazy()

try:  # the compiled normal quantile (sibsim/_normal.c), bit for bit scipy.special.ndtri
    from . import _normal
except ImportError:  # not built: scipy's, same numbers
    _normal = None


def ndtri(u) -> np.ndarray:
    """The standard normal quantile of each of ``u``: equal bit for bit to ``scipy.special.ndtri``
    (the reference, used when sibsim/_normal.c was not built), without importing scipy."""
    u = np.asarray(u, dtype=np.float64)
    if _normal is None:
        return special.ndtri(u)
    if not u.flags.c_contiguous:
        u = u.copy(order="C")
    out = np.empty_like(u)
    _normal.ndtri(u, out)
    return out[()] if out.ndim == 0 else out


_TAIL = 1e-6  # beyond these quantiles the inverse CDF is computed exactly
# special.ndtri(_TAIL) and special.ndtri(1 - _TAIL), written out exactly (tests/test_startup.py checks them)
_Z_ENDS = (-4.753424308822899, 4.753424308817087)
_Z = np.linspace(*_Z_ENDS, 1 << 13)  # table grid, in normal scores


def _compute_beta_table(a: float, b: float) -> np.ndarray:
    return special.betaincinv(a, b, special.ndtr(_Z))


@functools.lru_cache(maxsize=256)
def _beta_table(a: float, b: float) -> np.ndarray:
    """Beta(a, b)'s quantiles at the normal scores ``_Z``: from this process's memory, else from the
    table cache on disk (:mod:`sibsim.tables`, so a run need not import scipy), else computed by scipy."""
    from .tables import cached

    return cached(f"beta {a!r} {b!r} on {_Z_ENDS!r} x {len(_Z)}", len(_Z),
                  lambda: _compute_beta_table(a, b), check=_is_quantile_table)


def _is_quantile_table(x: np.ndarray) -> bool:
    return bool(np.all((x >= 0) & (x <= 1)) and np.all(np.diff(x) >= 0))


def beta_ppf(a: float, b: float, u: np.ndarray) -> np.ndarray:
    """Inverse CDF of Beta(a, b), tabulated on a grid of normal scores and interpolated.

    ``betaincinv`` costs about 1.5 microseconds a value and large runs draw
    hundreds of thousands, so each prior's inverse CDF is tabulated once
    (8,192 points, even in normal scores so the tails are well covered) and
    interpolated; beyond the 1e-6 quantiles it is computed exactly. The
    error is far below Monte Carlo error (tests hold it against scipy).
    """
    u = np.asarray(u, dtype=float)
    x = np.interp(ndtri(u), _Z, _beta_table(float(a), float(b)))
    tails = (u < _TAIL) | (u > 1 - _TAIL)
    if tails.any():
        x[tails] = special.betaincinv(a, b, u[tails])
    return x


class _Prior(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    _screen_inputs = model_validator(mode="before")(classmethod(screen_inputs))

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def variance(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def support(self) -> tuple[float, float]:
        return (float(self.ppf(np.array([0.0]))[0]), float(self.ppf(np.array([1.0]))[0]))

    def quantile(self, q: float) -> float:
        return float(self.ppf(np.array([q]))[0])

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.model_dump(exclude={"dist"}).items() if v is not None)
        return f"{self.dist}({args})"


class Fixed(_Prior):
    dist: Literal["fixed"] = "fixed"
    value: float

    def ppf(self, u):
        return np.full(np.shape(u), self.value, dtype=float)

    @property
    def mean(self):
        return self.value

    @property
    def variance(self):
        return 0.0


class Uniform(_Prior):
    dist: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _check(self):
        if not self.high > self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        return self

    def ppf(self, u):
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)

    @property
    def mean(self):
        return (self.low + self.high) / 2

    @property
    def variance(self):
        return (self.high - self.low) ** 2 / 12


class Triangular(_Prior):
    dist: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    @model_validator(mode="after")
    def _check(self):
        if not (self.low <= self.mode <= self.high and self.high > self.low):
            raise ValueError(
                f"need low <= mode <= high and low < high; got low={self.low}, mode={self.mode}, high={self.high}"
            )
        return self

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        a, c, b = self.low, self.mode, self.high
        fc = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < fc, left, right)

    @property
    def mean(self):
        return (self.low + self.mode + self.high) / 3

    @property
    def variance(self):
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18


class Pert(_Prior):
    """Beta-PERT on [low, high] with the given mode and shape ``lam`` (4 classically)."""

    dist: Literal["pert"] = "pert"
    low: float
    mode: float
    high: float
    lam: float = Field(4.0, gt=0)

    @model_validator(mode="after")
    def _check(self):
        if not (self.low <= self.mode <= self.high and self.high > self.low):
            raise ValueError(
                f"need low <= mode <= high and low < high; got low={self.low}, mode={self.mode}, high={self.high}"
            )
        return self

    @property
    def _ab(self):
        r = self.high - self.low
        a = 1 + self.lam * (self.mode - self.low) / r
        b = 1 + self.lam * (self.high - self.mode) / r
        return a, b

    def ppf(self, u):
        a, b = self._ab
        return self.low + (self.high - self.low) * beta_ppf(a, b, u)

    @property
    def mean(self):
        return (self.low + self.lam * self.mode + self.high) / (self.lam + 2)

    @property
    def variance(self):
        a, b = self._ab
        r = self.high - self.low
        return r * r * a * b / ((a + b) ** 2 * (a + b + 1))


class Normal(_Prior):
    """Normal by mean and sd, optionally truncated to [low, high]."""

    dist: Literal["normal"] = "normal"
    mean_: float = Field(alias="mean")
    sd: float = Field(ge=0)
    low: float | None = None
    high: float | None = None
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self):
        if self.low is not None and self.high is not None and not self.high > self.low:
            raise ValueError(f"high ({self.high}) must be greater than low ({self.low})")
        if self.sd == 0 and (self.low is not None or self.high is not None):
            raise ValueError("a truncated normal needs sd > 0")
        return self

    def _ab(self):
        a = -np.inf if self.low is None else (self.low - self.mean_) / self.sd
        b = np.inf if self.high is None else (self.high - self.mean_) / self.sd
        return a, b

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        if self.sd == 0:
            return np.full(u.shape, self.mean_)
        if self.low is None and self.high is None:
            return self.mean_ + self.sd * ndtri(u)
        from scipy import stats  # imported on use: it is slow to import

        a, b = self._ab()
        return stats.truncnorm.ppf(u, a, b, loc=self.mean_, scale=self.sd)

    @property
    def mean(self):
        if self.low is None and self.high is None or self.sd == 0:
            return self.mean_
        from scipy import stats

        a, b = self._ab()
        return float(stats.truncnorm.mean(a, b, loc=self.mean_, scale=self.sd))

    @property
    def variance(self):
        if self.low is None and self.high is None or self.sd == 0:
            return self.sd**2
        from scipy import stats

        a, b = self._ab()
        return float(stats.truncnorm.var(a, b, loc=self.mean_, scale=self.sd))

    def __str__(self):
        extra = "".join(f", {k}={v}" for k, v in (("low", self.low), ("high", self.high)) if v is not None)
        return f"normal(mean={self.mean_}, sd={self.sd}{extra})"


class LogNormal(_Prior):
    """Lognormal given by the mean and sd of the variable itself (not of its log)."""

    dist: Literal["lognormal"] = "lognormal"
    mean_: float = Field(alias="mean", gt=0)
    sd: float = Field(gt=0)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self):
        if not self.sd / self.mean_ <= 1e6:  # beyond it log(1 + cv^2) overflows or the tails do
            raise ValueError(f"sd / mean must be at most 1e6; got sd={self.sd:g}, mean={self.mean_:g}")
        return self

    def _musigma(self):
        s2 = math.log(1 + (self.sd / self.mean_) ** 2)
        return math.log(self.mean_) - s2 / 2, math.sqrt(s2)

    def ppf(self, u):
        mu, s = self._musigma()
        return np.exp(mu + s * ndtri(np.asarray(u, dtype=float)))

    @property
    def mean(self):
        return self.mean_

    @property
    def variance(self):
        return self.sd**2

    def __str__(self):
        return f"lognormal(mean={self.mean_}, sd={self.sd})"


class Beta(_Prior):
    """Beta on [0, 1], by shape ``a, b`` or by ``mean, sd``."""

    dist: Literal["beta"] = "beta"
    a: float | None = Field(None, gt=0)
    b: float | None = Field(None, gt=0)
    mean_: float | None = Field(None, alias="mean")
    sd: float | None = Field(None, gt=0)
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _check(self):
        shape = (self.a is not None, self.b is not None)
        moments = (self.mean_ is not None, self.sd is not None)
        by_moments = all(moments)
        if not (all(shape) and not any(moments) or by_moments and not any(shape)):
            raise ValueError("give either a and b, or mean and sd (not a mix)")
        if by_moments:
            m, s = self.mean_, self.sd
            if not 0 < m < 1:
                raise ValueError(f"mean must lie strictly between 0 and 1; got {m}")
            if not s * s < m * (1 - m):
                raise ValueError(
                    f"sd must be below sqrt(mean*(1-mean)) = {math.sqrt(m * (1 - m)):.4g} for a beta; got {s}"
                )
            if not s * s > 0 or m * (1 - m) / (s * s) > MAX_ABS:  # the shapes a + b = mean(1-mean)/sd^2 - 1
                raise ValueError(f"sd is too small for a beta (its shape would exceed {MAX_ABS:g}); use a fixed "
                                 f"value or sd >= {math.sqrt(m * (1 - m) / MAX_ABS):.2g}; got {s}")
        return self

    @property
    def shape(self) -> tuple[float, float]:
        if self.a is not None:
            return self.a, self.b
        m, s = self.mean_, self.sd
        k = m * (1 - m) / (s * s) - 1
        return m * k, (1 - m) * k

    def ppf(self, u):
        a, b = self.shape
        return beta_ppf(a, b, u)

    @property
    def mean(self):
        a, b = self.shape
        return a / (a + b)

    @property
    def variance(self):
        a, b = self.shape
        return a * b / ((a + b) ** 2 * (a + b + 1))

    def __str__(self):
        a, b = self.shape
        return f"beta(a={a:.4g}, b={b:.4g})"


class Empirical(_Prior):
    """Resample a given list of values with equal weight (inverse empirical CDF)."""

    dist: Literal["empirical"] = "empirical"
    values: tuple[float, ...] = Field(min_length=1)

    def ppf(self, u):
        v = np.sort(np.asarray(self.values, dtype=float))
        idx = np.minimum((np.asarray(u, dtype=float) * len(v)).astype(np.int64), len(v) - 1)
        return v[idx]

    @property
    def mean(self):
        return float(np.mean(self.values))

    @property
    def variance(self):
        return float(np.var(self.values))

    def __str__(self):
        return f"empirical(n={len(self.values)})"


Prior = Annotated[
    Union[Fixed, Uniform, Triangular, Pert, Normal, LogNormal, Beta, Empirical],
    Field(discriminator="dist"),
]
PRIOR_KINDS = ("fixed", "uniform", "triangular", "pert", "normal", "lognormal", "beta", "empirical")


def correlation_matrix(names: list[str], pairs: list[tuple[str, str, float]]) -> np.ndarray:
    """Build the copula correlation matrix; raise ValueError if it is not a valid one."""
    index = {n: i for i, n in enumerate(names)}
    c = np.eye(len(names))
    for a, b, rho in pairs:
        if a == b:
            raise ValueError(f"a parameter cannot be correlated with itself ({a})")
        c[index[a], index[b]] = c[index[b], index[a]] = rho
    if len(names) and np.linalg.eigvalsh(c).min() <= 1e-10:
        raise ValueError("the correlations do not form a positive-definite matrix")
    return c


def apply_copula(u: np.ndarray, chol: np.ndarray | None) -> np.ndarray:
    """Correlate independent uniforms ``u`` (trials, P) through a Gaussian copula.

    ``chol`` is the lower Cholesky factor of the correlation matrix, or None for
    independence (uniforms returned unchanged).
    """
    if chol is None:
        return u
    x = ndtri(np.clip(u, 1e-16, 1 - 1e-16))
    z = np.zeros_like(x)
    for j in range(x.shape[1]):  # z = x @ chol.T term by term: a trial's draws must not depend on its batch
        z += x[:, j, None] * chol[:, j]
    return special.ndtr(z)
