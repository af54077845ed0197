"""Every output of a run, declared once: name, label, unit, scope, party and the finance models that have it.

A run reports per-trial **metrics** (float arrays) and **indicators** (bool
arrays whose means are probabilities). Each is either **shared** by every
finance model evaluated on the same draws (participants, outcomes, outcome
payments owed, deadweight, delivery cost: they do not depend on who pays) or
belongs to **one finance model** (who paid what, investor returns, provider
cash, insolvency). Investor outputs exist only for models with investors
(:data:`HAS_INVESTORS`): under fee for service an investor IRR is absent,
not zero.

The engine checks every name a layer returns against this table
(:func:`check`) and refuses an undeclared or clashing one; tables, the app,
plots, sweeps, the evidence base and notebooks read labels, units and
formats from it (:func:`label`, :func:`unit`, :func:`fmt`) -- there is no
second list. Names may carry placeholders (``additional_outcomes.<outcome>``,
``investor_<tranche>_irr``), filled from the scenario.

One flat column naming for per-trial tables holding several models
(``pbr:commissioner_cost``) is defined here (:func:`column`,
:func:`split_column`), as is reading the prefixed names of format-1 records
(``pbr.provider_min_cash``, :func:`split_format1`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import SibsimError
from .numbers import SYMBOLS, fmt  # noqa: F401  (re-exported: outputs.fmt formats every table)

UNITS = ("currency", "share", "probability", "count", "periods", "rate_per_year", "multiple")
PARTIES = {  # party -> heading, in the order tables show them
    "commissioner": "Commissioner (public sector)",
    "provider": "Provider",
    "investor": "Investors",
    "outcomes": "Participants and outcomes",
    "delivery": "Delivery (caseworkers and waiting list)",
    "measurement": "Measured outcomes",
    "other": "Intermediary and guarantor",
}
FINANCE_MODELS = ("sib", "pbr", "fee", "hybrid")
HAS_INVESTORS = ("sib",)
SIB_ONLY = ("sib",)
FORMAT = 2  # version of a run's JSON record (format 1: other models under prefixes such as ``pbr.``)


class OutputError(SibsimError):
    """A layer returned an output that is not declared here, or declared for another scope or model."""


@dataclass(frozen=True)
class Output:
    """One declared output (or a family of them, when ``name`` has ``<placeholders>``)."""

    name: str
    label: str
    unit: str
    scope: str  # "shared" or "model"
    party: str
    kind: str = "metric"  # or "indicator"
    models: tuple[str, ...] = FINANCE_MODELS  # model scope only: the models that have it
    help: str = ""
    when: str = ""  # a condition on the scenario (see WHEN); empty: always

    def __post_init__(self):
        assert self.unit in UNITS and self.party in PARTIES and self.scope in ("shared", "model"), self
        assert self.kind in ("metric", "indicator") and (not self.when or self.when in WHEN), self


def _m(name, label, unit, party, help="", **kw):
    return Output(name, label, unit, "model", party, help=help, **kw)


def _s(name, label, unit, party, help="", **kw):
    return Output(name, label, unit, "shared", party, help=help, **kw)


def _target(sc) -> bool:
    m = sc.measurement
    by_name = {o.name: o for o in m.outcomes}
    return (all(by_name[p.outcome].target_effect is not None for p in m.points)
            and all(e.target_effect is not None for e in getattr(m, "estimates", ())))


WHEN = {  # condition name -> predicate on the scenario: when an output exists
    "cap": lambda sc: sc.rate_card.cap_total is not None,
    "measurement": lambda sc: sc.measurement is not None,
    "target": lambda sc: sc.measurement is not None and _target(sc),
    "delivery": lambda sc: sc.delivery is not None,
    "transaction": lambda sc: bool(sc.finance.transaction_costs),
    "termination": lambda sc: getattr(sc, "termination", None) is not None,
    "appraisal": lambda sc: getattr(sc, "appraisal", None) is not None,
    "tranches": lambda sc: bool(sc.finance.sib.tranches),
    "valued": lambda sc: getattr(sc, "appraisal", None) is not None and bool(sc.appraisal.value_per_outcome),
}

P, INV, TR, DLV = "probability", dict(models=HAS_INVESTORS), "<tranche>", dict(when="delivery")
DECLARED: tuple[Output, ...] = (
    # ---- shared: the same under every finance model (sibsim.metrics.per_trial)
    _s("participants", "Participants", "count", "outcomes", "people who started"),
    _s("engaged", "Engaged participants", "count", "outcomes"),
    _s("outcome_payments", "Outcome payments owed (rate card)", "currency", "outcomes",
       "what the rate card owes for the outcomes achieved, whoever pays it"),
    _s("outcome_payments_pv", "Outcome payments owed (present value)", "currency", "outcomes"),
    _s("counterfactual_payments", "Payments owed for deadweight outcomes", "currency", "outcomes",
       "what the rate card would owe had nobody been treated"),
    _s("deadweight_share", "Deadweight share of payments owed", "share", "outcomes"),
    _s("cost_per_additional_outcome", "Payments owed per additional outcome", "currency", "outcomes",
       "rate-card payments / additional outcomes; undefined without an additional outcome"),
    _s("delivery_cost", "Delivery cost", "currency", "outcomes"),
    _s("delivery_cost_pv", "Delivery cost (present value)", "currency", "outcomes"),
    _s("outcomes.<outcome>", "Outcomes: {outcome}", "count", "outcomes"),
    _s("counterfactual_outcomes.<outcome>", "Outcomes without the service: {outcome}", "count", "outcomes"),
    _s("additional_outcomes.<outcome>", "Additional outcomes: {outcome}", "count", "outcomes"),
    _s("any_payment", "Any outcome payment", P, "outcomes", kind="indicator"),
    _s("contract_cap_reached", "Contract cap reached", P, "outcomes", kind="indicator", when="cap"),
    _s("termination_period", "Last period of the contract", "periods", "outcomes",
       "the period the contract ended (the horizon's last when it ran its course)", when="termination"),
    _s("terminated_early", "Contract terminated early", P, "outcomes", kind="indicator", when="termination"),
    # measured outcomes (sibsim.measure)
    *(_s(f"measurement.{name}", label, unit, "measurement", kind=kind, when=when) for name, label, unit, kind, when in (
        ("<point>.observed_rate", "Measured {point}: observed rate", "share", "metric", "measurement"),
        ("<point>.comparison_rate", "Measured {point}: comparison rate", "share", "metric", "measurement"),
        ("<point>.measured_improvement", "Measured {point}: measured improvement", "share", "metric", "measurement"),
        ("<point>.true_improvement", "Measured {point}: true improvement", "share", "metric", "measurement"),
        ("<point>.payment", "Measured {point}: payment", "currency", "metric", "measurement"),
        ("<point>_triggered", "Measured {point}: payment triggered", P, "indicator", "measurement"),
        ("<point>_trigger_met", "Measured {point}: trigger met", P, "indicator", "measurement"),
        ("<estimate>.mean_estimate", "Impact estimate {estimate}: mean estimate", "share", "metric", "measurement"),
        ("<estimate>_paid", "Impact estimate {estimate}: paid", P, "indicator", "measurement"),
        ("payments", "Measured payments", "currency", "metric", "measurement"),
        ("payments_no_effect", "Measured payments with no effect", "currency", "metric", "measurement"),
        ("payments_at_target", "Measured payments at the target effect", "currency", "metric", "target"),
        ("pay_when_no_effect", "Pays with no effect", P, "indicator", "measurement"),
        ("no_pay_at_target", "Pays nothing at the target effect", P, "indicator", "target"))),
    # delivery model (sibsim.delivery)
    _s("delivery.referrals", "Referrals", "count", "delivery", **DLV),
    _s("delivery.turned_away", "Referrals turned away", "count", "delivery", **DLV),
    _s("delivery.dropouts_waiting", "Drop-outs while waiting", "count", "delivery",
       "people who gave up before a caseworker was free", **DLV),
    _s("delivery.waiting_at_end", "Waiting at the horizon", "count", "delivery", **DLV),
    _s("delivery.mean_wait_periods", "Mean wait", "periods", "delivery",
       "mean time on the waiting list of those who started", **DLV),
    _s("delivery.mean_time_on_list_periods", "Mean time on the waiting list", "periods", "delivery", **DLV),
    _s("delivery.mean_queue_length", "Mean waiting list", "count", "delivery", "time-average number waiting",
       **DLV),
    _s("delivery.caseworker_utilisation", "Caseworker utilisation", "share", "delivery",
       "time-average busy slots / slots in post", **DLV),
    _s("delivery.starts_short_of_plan", "Starts short of plan", "count", "delivery",
       "expected referrals (capped at the contract maximum) less actual starts", **DLV),
    _s("delivery.events", "Discrete events simulated", "count", "delivery", **DLV),
    # value-for-money comparisons between models (sibsim.finance.appraisal): shared, they span models
    _s("vfm.<model>_better_than_fee", "P({model} better value than fee for service)", P, "commissioner",
       kind="indicator", when="valued"),
    _s("vfm.<model>_better_than_fee@<wtp>", "P({model} beats fee for service at {wtp} per outcome)", P,
       "commissioner", kind="indicator", when="appraisal"),
    _s("vfm.<model>_better_than_nothing@<wtp>", "P({model} beats doing nothing at {wtp} per outcome)", P,
       "commissioner", kind="indicator", when="appraisal"),
    # ---- one finance model's (sibsim.finance.cash_metrics, provider_account, appraisal)
    _m("commissioner_cost", "Commissioner cost", "currency", "commissioner", "what the local commissioner pays"),
    _m("commissioner_cost_pv", "Commissioner cost (present value)", "currency", "commissioner"),
    _m("outcome_fund_cost", "Outcomes fund cost", "currency", "commissioner", "what the central co-payer pays"),
    _m("outcome_fund_cost_pv", "Outcomes fund cost (present value)", "currency", "commissioner"),
    _m("public_cost", "Public cost (all outcome payers)", "currency", "commissioner",
       "commissioner plus outcomes fund"),
    _m("public_cost_per_additional_outcome", "Public cost per additional outcome", "currency", "commissioner",
       "public cost / additional outcomes (all outcomes, at the simulated effect)"),
    _m("deadweight_paid", "Deadweight paid", "currency", "commissioner",
       "outcome payments actually made for outcomes that would have happened anyway"),
    _m("public_cost_pv", "Public cost (present value, optimism bias)", "currency", "commissioner"),
    _m("additional_outcomes_counted", "Additional outcomes counted", "count", "commissioner",
       "appraisal's effect outcomes times the model's effect share"),
    _m("cost_per_additional_outcome_pv", "Public cost per additional outcome (present value)", "currency",
       "commissioner", "value for money: public_cost_pv / additional outcomes counted"),
    _m("value_of_additional_outcomes_pv", "Value of additional outcomes (present value)", "currency",
       "commissioner", when="valued"),
    _m("commissioner_npv", "Net present value to the public sector", "currency", "commissioner",
       "value of additional outcomes less public cost, present values", when="valued"),
    _m("provider_surplus", "Provider surplus", "currency", "provider", "after overdraft interest"),
    _m("provider_min_cash", "Provider minimum cash", "currency", "provider",
       "deepest its contract cash went, before reserves and interest: the working capital it needs"),
    _m("provider_min_balance", "Provider lowest balance", "currency", "provider", "reserves included, after interest"),
    _m("provider_peak_overdraft", "Provider peak overdraft", "currency", "provider"),
    _m("overdraft_interest", "Overdraft interest paid", "currency", "provider"),
    _m("insolvency", "Provider insolvency", P, "provider", "balance below minus the overdraft limit",
       kind="indicator"),
    _m("provider_shortfall", "Provider short of cash", P, "provider", "contract cash ever below zero",
       kind="indicator"),
    _m("investor_drawdowns", "Investor drawdowns", "currency", "investor", **INV),
    _m("investor_distributions", "Investor distributions", "currency", "investor", **INV),
    _m("investor_net_gain", "Investor net gain", "currency", "investor", "distributions less drawdowns", **INV),
    _m("investor_moic", "Investor multiple of money (MOIC)", "multiple", "investor", **INV),
    _m("investor_moic_ex_guarantee", "Investor multiple from outcome payments alone", "multiple", "investor",
       "distributions / drawdowns, the guarantee apart", **INV),
    _m("investor_irr", "Investor IRR (annual)", "rate_per_year", "investor", **INV),
    _m("investor_peak_capital", "Investor peak capital", "currency", "investor", **INV),
    _m("investor_loss", "Investor loss", P, "investor", "net gain below zero", kind="indicator", **INV),
    _m("intermediary_income", "Intermediary income", "currency", "other", models=SIB_ONLY),
    _m("transaction_costs", "Transaction costs (all parties)", "currency", "other",
       "developing and running the contract (sibsim.finance.transaction)", when="transaction"),
    _m("transaction_costs_<payer>", "Transaction costs paid by the {payer}", "currency", "other", when="transaction"),
    _m("guarantee_paid", "Guarantee paid", "currency", "other", models=SIB_ONLY),
    _m("excess_payments", "Payments beyond what investors are owed", "currency", "other", models=SIB_ONLY),
    _m("recycled_payments", "Outcome payments recycled into delivery", "currency", "other", models=SIB_ONLY),
    *(_m(f"{h}_{TR}_{k}", f"{'Investor' if h == 'investor' else 'Provider'} tranche {{tranche}}: {lab}", u,
         h, models=SIB_ONLY, when="tranches")
      for h in ("investor", "provider")
      for k, lab, u in (("drawdowns", "drawdowns", "currency"), ("distributions", "distributions", "currency"),
                        ("net_gain", "net gain", "currency"), ("moic", "MOIC", "multiple"),
                        ("irr", "IRR (annual)", "rate_per_year"))),
    *(_m(f"{h}_{TR}_loss", f"{'Investor' if h == 'investor' else 'Provider'} tranche {{tranche}}: loss", P, h,
         kind="indicator", models=SIB_ONLY, when="tranches") for h in ("investor", "provider")),
)

GLOSSARY = {
    "IRR": "internal rate of return: the annual rate at which the investors' cash flows have zero net present "
           "value; undefined when they never change sign (nothing drawn, or nothing back)",
    "MOIC": "multiple of money invested: what investors got back / what they put in (1.0x: money back)",
    "mcse": "Monte Carlo standard error of the mean: how far the mean may move with another seed "
            "(about 2 mcse either way, 95%)",
    "deadweight": "outcomes that would have happened without the service; payments for them buy nothing",
    "P5/P95": "5th and 95th percentiles across trials: 90% of trials fall between them",
    "undefined": "trials in which a figure has no value (an IRR with no sign change, a cost per outcome with "
                 "no additional outcome); summaries leave them out and count them",
    "paired difference": "two models, or two runs with the same seed, evaluated on the same draws: the standard "
                         "error of the mean of the per-trial differences, much smaller than for independent runs",
}

_PH = re.compile(r"<(\w+)>")


@lru_cache(maxsize=None)
def _regex(name: str):
    parts = _PH.split(name)
    rx = "".join(re.escape(p) if i % 2 == 0 else rf"(?P<{p}>[^:@]+?)" for i, p in enumerate(parts))
    return re.compile(rx + r"\Z")


_EXACT = {o.name: o for o in DECLARED if "<" not in o.name}
# (declaration, its text before the first placeholder, after the last): a cheap test before the regex
_PATTERNS = tuple((o, o.name.split("<", 1)[0], o.name.rsplit(">", 1)[1]) for o in DECLARED if "<" in o.name)


@lru_cache(maxsize=4096)
def match(name: str) -> tuple[Output, dict[str, str]] | None:
    """The declaration of ``name`` and its placeholder values, or None if undeclared.

    Raises OutputError if ``name`` matches two declarations (a clash). Cached: a run checks the same
    names in every chunk. Callers must not change the returned dict.
    """
    if name in _EXACT:
        return _EXACT[name], {}
    hits = [(o, m.groupdict()) for o, head, tail in _PATTERNS
            if name.startswith(head) and name.endswith(tail) and (m := _regex(o.name).match(name))]
    if len(hits) > 1:
        raise OutputError(f"output {name!r} matches {len(hits)} declarations: {', '.join(o.name for o, _ in hits)}")
    return hits[0] if hits else None


def declaration(name: str) -> Output:
    found = match(name)
    if found is None:
        raise OutputError(f"output {name!r} is not declared in sibsim.outputs")
    return found[0]


def wtp_label(w: float) -> str:
    """``5000`` for 5000.0, ``2500.5`` for 2500.5: the ``<wtp>`` of the acceptability indicators."""
    return str(int(w)) if float(w).is_integer() else f"{w:.10g}"


def _values(o: Output, ph: str, sc, own: str) -> list[str]:
    """The values placeholder ``ph`` of declaration ``o`` takes in a run of ``sc`` (own model ``own``)."""
    if ph == "outcome":
        return [x.name for x in sc.outcomes]
    if ph == "point":  # an impact estimate's payment reads like a point's
        est = [x.name for x in getattr(sc.measurement, "estimates", ())] if o.name.endswith(".payment") else []
        return [x.name for x in sc.measurement.points] + est
    if ph == "estimate":
        return [x.name for x in getattr(sc.measurement, "estimates", ())]
    if ph == "tranche":
        return [t.name for t in sc.finance.sib.tranches or () if t.holder == o.party]
    if ph == "wtp":
        return [wtp_label(w) for w in sc.appraisal.wtp_grid]
    if ph == "payer":
        return list(dict.fromkeys(tc.party for tc in sc.finance.transaction_costs))
    if ph == "model":  # the appraisal compares the own outcome-based model (sib if the own is the fee)
        ours = own if own != "fee" else "sib"
        return [ours, "fee"] if o.name.endswith("better_than_nothing@<wtp>") else [ours]
    raise OutputError(f"placeholder <{ph}> of {o.name!r} has no values")


def expected(sc, models=()) -> tuple[tuple[set, set], dict[str, tuple[set, set]]]:
    """The outputs a run of ``sc`` with extra finance ``models`` reports, from the declaration alone.

    Returns ``((shared metrics, shared indicators), {model: (metrics, indicators)})``, names as sets;
    the scenario's own model first. A test holds the engine to exactly these.
    """
    own = sc.finance.model
    names = [own] + [m for m in dict.fromkeys(models) if m != own]
    shared: tuple[set, set] = (set(), set())
    per: dict[str, tuple[set, set]] = {m: (set(), set()) for m in names}
    for o in DECLARED:
        if o.when and not WHEN[o.when](sc):
            continue
        found = [o.name]
        for ph in _PH.findall(o.name):
            found = [n.replace(f"<{ph}>", v, 1) for n in found for v in _values(o, ph, sc, own)]
        k = 0 if o.kind == "metric" else 1
        if o.scope == "shared":
            shared[k].update(found)
        else:
            for m in names:
                if m in o.models:
                    per[m][k].update(found)
    return shared, per


def _context(sc) -> dict[str, set[str] | None]:
    """The values each placeholder may take in a run of ``sc`` (None: any number)."""
    tranches = getattr(getattr(getattr(sc, "finance", None), "sib", None), "tranches", None) or ()
    meas = getattr(sc, "measurement", None)
    return {"outcome": {o.name for o in sc.outcomes}, "tranche": {t.name for t in tranches},
            "point": ({p.name for p in meas.points} | {e.name for e in getattr(meas, "estimates", ())}
                      if meas is not None else set()),
            "estimate": {e.name for e in getattr(meas, "estimates", ())} if meas is not None else set(),
            "model": set(FINANCE_MODELS), "wtp": None,
            "payer": {tc.party for tc in (getattr(getattr(sc, "finance", None), "transaction_costs", None) or ())}}


def check(sc, *, shared: tuple[dict, dict], models: dict[str, tuple[dict, dict]], layer: str = "engine") -> None:
    """Refuse any output of a run of ``sc`` that is undeclared, in the wrong scope or model, or clashing.

    shared: (metrics, indicators) shared by every model; models: name -> (metrics, indicators) of that model.
    """
    ctx = _context(sc)

    def one(name, kind, where, model=None):
        found = match(name)
        if found is None:
            raise OutputError(f"{layer} returned undeclared output {name!r} ({where}); declare it in sibsim.outputs")
        o, values = found
        for ph, v in values.items():
            ok = ctx.get(ph)
            if ok is None and ph == "wtp":
                try:
                    float(v)
                except ValueError:
                    ok = set()
            if ok is not None and v not in ok:
                raise OutputError(f"{layer} returned {name!r}: {ph} {v!r} is not one of this scenario's "
                                  f"({', '.join(sorted(ok)) or 'none'})")
        if o.kind != kind:
            raise OutputError(f"{layer} returned {name!r} as a {kind}; it is declared as a {o.kind}")
        if model is None and o.scope != "shared":
            raise OutputError(f"{layer} returned {name!r} as shared by every model; it belongs to one finance model")
        if model is not None and (o.scope != "model" or model not in o.models):
            allowed = "shared by every model" if o.scope == "shared" else f"of {', '.join(o.models)} only"
            raise OutputError(f"{layer} returned {name!r} for finance model {model!r}; it is declared {allowed}")

    for kind, d in zip(("metric", "indicator"), shared):
        for k in d:
            one(k, kind, "shared")
    for model, pair in models.items():
        if model not in FINANCE_MODELS:
            raise OutputError(f"{layer} returned outputs of unknown finance model {model!r}")
        for kind, d in zip(("metric", "indicator"), pair):
            for k in d:
                one(k, kind, f"model {model}", model)
                if k in shared[0] or k in shared[1]:
                    raise OutputError(f"{layer} returned {k!r} both as shared and for model {model!r}")


_CHECKED: set = set()  # (placeholder values, names) already checked: a memo, it holds no results


def check_run_outputs(sc, *, shared: tuple[dict, dict], models: dict[str, tuple[dict, dict]],
                      layer: str = "engine") -> None:
    """:func:`check`, once per set of names and placeholder values (every chunk of a run has the same):
    the verdict depends on nothing else."""
    ctx = tuple((k, None if v is None else tuple(sorted(v))) for k, v in _context(sc).items())
    key = (ctx, tuple(shared[0]), tuple(shared[1]),
           tuple((name, tuple(m), tuple(i)) for name, (m, i) in models.items()), layer)
    if key in _CHECKED:
        return
    check(sc, shared=shared, models=models, layer=layer)
    if len(_CHECKED) > 256:
        _CHECKED.clear()
    _CHECKED.add(key)


# ---------------------------------------------------------------- reading the declaration


def label(name: str) -> str:
    """Readable label of an output (``Investor IRR (annual)``; ``Additional outcomes: job entry``)."""
    found = match(name)
    if found is None:
        return name.replace("_", " ").capitalize()
    o, values = found
    return o.label.format(**{k: v.replace("_", " ") for k, v in values.items()})


def probability_label(name: str) -> str:
    """``P(investor loss)`` for an indicator (labels that already read as a probability are kept)."""
    text = label(name)
    return text if text.startswith("P(") else f"P({text[0].lower()}{text[1:]})"


def curve_point(name: str) -> float | None:
    """The willingness to pay of an acceptability-curve indicator (``vfm.sib_better_than_fee@5000`` -> 5000.0),
    None for any other output."""
    found = match(name)
    return float(found[1]["wtp"]) if found is not None and "wtp" in found[1] else None


def unit(name: str) -> str | None:
    found = match(name)
    return found[0].unit if found else None


def party(name: str) -> str:
    found = match(name)
    return found[0].party if found else "other"


def is_model_output(name: str) -> bool:
    found = match(name)
    return bool(found) and found[0].scope == "model"


def has_investors(model: str) -> bool:
    return model in HAS_INVESTORS


def exists_for(name: str, model: str) -> bool:
    """Whether output ``name`` exists under finance ``model`` (shared outputs exist for every model)."""
    o = declaration(name)
    return o.scope == "shared" or model in o.models


def by_party(names) -> dict[str, list[str]]:
    """``party -> names`` in the order of :data:`PARTIES`, names in declaration order within each."""
    order = {o.name: i for i, o in enumerate(DECLARED)}

    def key(n):
        found = match(n)
        return (order.get(found[0].name, len(order)) if found else len(order), n)

    out: dict[str, list[str]] = {p: [] for p in PARTIES}
    for n in sorted(names, key=key):
        out[party(n)].append(n)
    return {p: v for p, v in out.items() if v}


def column(model: str, name: str) -> str:
    """Column of ``name`` under ``model`` in a flat per-trial table holding several models."""
    return f"{model}:{name}"


def split_column(col: str) -> tuple[str | None, str]:
    """``"pbr:commissioner_cost"`` -> ("pbr", "commissioner_cost"); a plain name -> (None, name)."""
    model, sep, name = col.partition(":")
    return (model, name) if sep and model in FINANCE_MODELS else (None, col)


def split_format1(name: str) -> tuple[str | None, str]:
    """A format-1 record's ``pbr.provider_min_cash`` -> ("pbr", "provider_min_cash"); other names -> (None, name)."""
    head, sep, tail = name.partition(".")
    return (head, tail) if sep and head in FINANCE_MODELS else (None, name)


# ---------------------------------------------------------------- numbers for people

def fmt_output(name: str, x, *, symbol: str = "") -> str:
    return fmt(x, unit(name), symbol=symbol)


def fmt_column(col: str, x, *, symbol: str = "") -> str:
    """A number in a flat results table whose columns are ``<output>_<stat>`` (sweeps: ``investor_irr_p50``,
    ``insolvency_p``, ``insolvency_se``), ``<model>:<output>`` or an output's own name; other columns
    (parameters) as plain numbers."""
    model, name = split_column(col)
    if match(name):
        return fmt(x, unit(name), symbol=symbol)
    base, _, stat = name.rpartition("_")
    if base and match(base):
        o = declaration(base)
        return fmt(x, "probability" if o.kind == "indicator" else o.unit, symbol=symbol)
    return fmt(x, None)
