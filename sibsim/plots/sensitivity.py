"""Figures for sensitivity analyses and sweeps: tornado, Sobol bars, Morris screening, sweep lines.

Each function takes the result of :mod:`sibsim.sensitivity` (a
``SensitivityResult`` or its ``to_dict()``) or a sweep DataFrame
(:func:`sibsim.sweep.sweep`) and returns a new Figure built without pyplot.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

BAND = ("p5", "p95")


def _fmt(v, _pos=None) -> str:
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def _indices(result) -> tuple[dict, dict]:
    """(indices by parameter, metadata) from a SensitivityResult or its dict."""
    d = result.to_dict() if hasattr(result, "to_dict") else dict(result)
    return d["parameters"], d


def _label(d: Mapping) -> str:
    out = d.get("output")
    return f"{out} ({d.get('stat', 'mean')})" if out else "output"


def tornado_chart(result, *, top: int | None = None, title: str | None = None) -> Figure:
    """Horizontal bars: the output with each parameter at its low and high value, the others at base.

    Parameters are sorted by swing, largest on top; each bar is labelled with
    the parameter's low and high values.
    """
    ind, d = _indices(result)
    names = sorted(ind, key=lambda n: ind[n]["swing"])
    if top:
        names = names[-top:]
    base = d.get("base")
    base = float(np.mean([ind[n]["low"] + ind[n]["high"] for n in names]) / 2) if base is None else base
    fig = Figure(figsize=(7, 0.45 * len(names) + 1.4), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(names))
    lo = np.array([ind[n]["low"] for n in names])
    hi = np.array([ind[n]["high"] for n in names])
    ax.barh(y, lo - base, left=base, color="#d95f02", label="parameter at its low value (P10)")
    ax.barh(y, hi - base, left=base, color="#1b9e77", label="parameter at its high value (P90)")
    ax.axvline(base, color="0.2", lw=1)
    ax.set_yticks(y, [f"{n}\n{ind[n]['low_value']:.3g} / {ind[n]['high_value']:.3g}" for n in names], fontsize=8)
    ax.set_xlabel(_label(d))
    ax.xaxis.set_major_formatter(_fmt)
    fig.legend(loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    ax.set_title(title or f"Tornado: {_label(d)}; others at their medians", fontsize=10)
    return fig


def sobol_bars(result, *, title: str | None = None) -> Figure:
    """First-order (S1) and total (ST) Sobol indices with their 95% confidence intervals."""
    ind, d = _indices(result)
    names = sorted(ind, key=lambda n: -ind[n]["ST"])
    x = np.arange(len(names))
    w = 0.38
    fig = Figure(figsize=(max(5.0, 0.9 * len(names) + 2), 3.8), layout="constrained")
    ax = fig.subplots()
    bars = ((-w / 2, "S1", "#7570b3", "first order (S1)"), (w / 2, "ST", "#e7298a", "total (ST)"))
    for off, key, colour, lab in bars:
        v = np.array([ind[n][key] for n in names])
        e = np.array([ind[n][f"{key}_conf"] for n in names])
        ax.bar(x + off, v, w, yerr=e, capsize=3, color=colour, label=lab)
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("share of variance")
    ax.legend(fontsize=8, frameon=False)
    n = d.get("samples")
    ax.set_title(title or f"Sobol indices of {_label(d)}" + (f" (N = {n})" if n else ""), fontsize=10)
    return fig


def morris_scatter(result, *, title: str | None = None) -> Figure:
    """Morris screening: mu_star (overall influence) against sigma (non-linearity, interactions)."""
    ind, d = _indices(result)
    fig = Figure(figsize=(5.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for n, v in ind.items():
        ax.errorbar(v["mu_star"], v["sigma"], xerr=v.get("mu_star_conf"), fmt="o", color="#1b9e77", capsize=2)
        ax.annotate(n, (v["mu_star"], v["sigma"]), fontsize=8, xytext=(4, 3), textcoords="offset points")
    ax.set_xlabel("mu* (mean |elementary effect|)")
    ax.set_ylabel("sigma")
    ax.set_title(title or f"Morris screening of {_label(d)}", fontsize=10)
    return fig


def sweep_lines(df, x: str, metrics: str | Sequence[str], *, by: str | None = None,
                band: tuple[str, str] | None = BAND, titles: Sequence[str] | None = None) -> Figure:
    """Each metric's mean against swept input ``x``, with its P5-P95 band across trials.

    ``df`` is a sweep result; ``metrics`` one or more metric names (columns
    ``<metric>_mean`` and, for the band, ``<metric>_p5``/``_p95``); ``by``
    draws one line per value of another swept column. Probabilities
    (``investor_loss``) are drawn from ``<name>_p``.
    """
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    fig = Figure(figsize=(4.2 * len(metrics) + 0.6, 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(metrics)))
    groups = [(None, df)] if by is None else list(df.groupby(by, sort=True))
    for j, (ax, m) in enumerate(zip(axes, metrics)):
        centre = f"{m}_mean" if f"{m}_mean" in df.columns else f"{m}_p"
        if centre not in df.columns:
            raise KeyError(f"{m!r} is not a metric or probability of this sweep")
        for g, sub in groups:
            sub = sub.sort_values(x)
            lab = ("mean" if centre.endswith("_mean") else "probability") if g is None else f"{by} = {g:g}"
            line, = ax.plot(sub[x], sub[centre], marker="o", ms=3, label=lab)
            if band and f"{m}_{band[0]}" in sub.columns:
                ax.fill_between(sub[x], sub[f"{m}_{band[0]}"], sub[f"{m}_{band[1]}"], color=line.get_color(),
                                alpha=0.18, lw=0, label=None if by else f"{band[0].upper()}-{band[1].upper()}")
        ax.yaxis.set_major_formatter(_fmt)
        ax.set_xlabel(x)
        ax.set_ylabel(m if centre.endswith("_mean") else f"P({m})")
        ax.set_title(titles[j] if titles else m, fontsize=10)
        ax.legend(fontsize=8, frameon=False)
    return fig
