"""What the app's pages share: the current scenario in session state, cached runs, the store.

The current scenario is kept as a plain dict (``scenario_data``, what the
user is editing) and, when that dict validates, as a ``Scenario``
(``scenario``); ``problems`` holds the ``(field path, message)`` pairs of
``sibsim.errors.ScenarioError`` otherwise, so every page can show the same
message beside the field it concerns. Widget keys of the scenario editor
carry the scenario's version (:func:`ed`), so loading a scenario renews them.

Runs are cached on hashable arguments (canonical JSON, trials, seed) with
``st.cache_resource``: a ``Run`` is immutable (read-only arrays), so the
cached object is shared, not copied.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import typing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st

import sibsim
from sibsim import outputs, spec, views
from sibsim.errors import ScenarioError, SibsimError
from sibsim.metrics import probability, summarise
from sibsim.plots import runs as plots

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
DEFAULT_SCENARIO = "benchmark"
MAX_UPLOAD_BYTES = 1_000_000
DEFAULT_TRIALS, DEFAULT_SEED = 10_000, 1
MIN_TRIALS, MAX_TRIALS = 100, 200_000  # the Run page's Trials box
ss = st.session_state


# ---------------------------------------------------------------- scenarios


def shipped() -> dict[str, Path]:
    """Scenario files shipped in scenarios/, by file stem."""
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def init_state() -> None:
    if "scenario_data" not in ss:
        files = shipped()
        name = DEFAULT_SCENARIO if DEFAULT_SCENARIO in files else next(iter(files))
        set_scenario(spec.load(files[name]), source=f"scenarios/{name}.yaml", origin=("scenario", name))
    ss.setdefault("run", None)
    ss.setdefault("compare", {})
    ss.setdefault("opts", {"trials": DEFAULT_TRIALS, "seed": DEFAULT_SEED})


def set_scenario(sc: sibsim.Scenario, *, source: str, origin: tuple[str, object] | None = None) -> None:
    """Make ``sc`` the current scenario; the editor's widgets start afresh (new keys, see :func:`ed`).

    ``origin``: ("scenario", file stem) or ("evidence", run id) when a link can name it (app_pages.links).
    """
    ss.scenario_version = ss.get("scenario_version", 0) + 1
    ss.scenario_source = source
    ss.scenario_origin = origin
    ss.scenario_edited = False
    update(spec.to_dict(sc), edited=False)


def ed(name: str) -> str:
    """Key of an editor widget for the current scenario.

    The scenario's version is part of the key: a widget whose state is only
    deleted keeps showing its old value in the browser (and may send it back),
    while a new key is a new widget that shows the new scenario's value.
    """
    return f"ed{ss.get('scenario_version', 0)}.{name}"


def source_label() -> str:
    """Where the current scenario came from, and whether it was edited since."""
    src = ss.get("scenario_source", "")
    return f"edited, from {src}" if ss.get("scenario_edited") else src


def update(data: dict, *, edited: bool = True) -> None:
    """Replace the edited scenario dict and validate it (``edited``: a user's change, not a load)."""
    if edited and data != ss.get("scenario_data"):
        ss.scenario_edited = True
    ss.scenario_data = data
    try:
        ss.scenario = spec.validate(copy.deepcopy(data))
        ss.problems = []
    except ScenarioError as e:
        ss.scenario = None
        ss.problems = list(e.problems)


def problems_at(prefix: str) -> list[tuple[str, str]]:
    return [(f, m) for f, m in ss.get("problems", []) if f == prefix or f.startswith(prefix + ".")]


def show_problems(prefix: str) -> None:
    """Problems of one field (or group of fields), shown where it is called: beside the field."""
    for field, msg in problems_at(prefix):
        st.error(f"`{field}`: {msg}", icon=":material/error:")


def problem_lines(problems) -> str:
    return "\n".join(f"- `{f or '(file)'}`: {m}" for f, m in problems)


def read_scenario_file(name: str, data: bytes) -> sibsim.Scenario:
    """Validate an uploaded file; raises ScenarioError naming the file and the fields."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ScenarioError([("", f"file is {len(data):,} bytes; the limit is {MAX_UPLOAD_BYTES:,} (1 MB)")],
                            source=name)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError([("", f"file is not UTF-8 text (byte {e.start})")], source=name) from None
    return spec.loads(text, source=name)


def value_text(v) -> str:
    """A number or parameter name as the editor shows it."""
    if v is None:
        return ""
    if isinstance(v, (int, float)):
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{v:.10g}"
    return str(v)


def parse_value(text: str):
    """Editor text -> None (blank), a float, or a parameter name (which spec then checks)."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text.replace(",", "").replace("_", ""))
    except ValueError:
        return text


def finance_models() -> list[str]:
    """The finance models sibsim can evaluate (``sibsim.finance.MODELS``, else the schema's ``finance.model``)."""
    try:
        from sibsim.finance import MODELS

        return list(MODELS)
    except ImportError:
        from sibsim.spec.model import Finance

        return list(typing.get_args(Finance.model_fields["model"].annotation))


def own_model(sc: sibsim.Scenario) -> str:
    return str(getattr(sc.finance, "model", "sib"))


# ---------------------------------------------------------------- runs


@st.cache_resource(max_entries=16, show_spinner=False)
def simulate_cached(canonical_json: str, trials: int, seed: int, finance: tuple[str, ...] = ()) -> sibsim.Run:
    """``sibsim.simulate`` of the scenario given by its canonical JSON (cached per process).

    ``finance``: other finance models to evaluate on the same draws.
    """
    sc = spec.validate(json.loads(canonical_json))
    extra = {"finance": tuple(finance)} if finance else {}
    return sibsim.simulate(sc, trials=int(trials), seed=int(seed), **extra)


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Load the engine's compiled kernels in the background so the first real run is fast."""
    def _go():
        try:
            sibsim.simulate(spec.load(next(iter(shipped().values()))), trials=200, seed=0)
        except Exception:  # noqa: BLE001 - a failed warm-up only costs time later
            pass

    t = threading.Thread(target=_go, name="sibsim-warm-up", daemon=True)
    t.start()
    return t


@dataclass(frozen=True)
class ModelView:
    """One finance model's side of a run that evaluated several on the same draws (``run.model(name)``).

    Reads like a run (shared outputs plus the model's own, plain names) for
    plots and headline figures; per-period cash (``paths``) is kept for the
    scenario's own model only.
    """

    run: object
    model: str
    metrics: dict
    indicators: dict
    paths: dict

    scenario = property(lambda self: self.run.scenario)
    seed = property(lambda self: self.run.seed)
    trials = property(lambda self: self.run.trials)


def model_views(run, models=None) -> dict[str, object]:
    """``model -> run or ModelView``: every finance model the run evaluated (or those of them in ``models``)."""
    out = {}
    for m in run.finance_models:
        if models is not None and m not in models:
            continue
        if m == run.finance_models[0]:
            out[m] = run
        else:
            r = run.model(m)
            out[m] = ModelView(run, m, dict(r.metrics), dict(r.indicators), {})
    return out


def results(run) -> tuple[dict, dict]:
    """(metric summaries, probabilities) of a run or a ModelView."""
    if hasattr(run, "metric_summaries"):
        return run.metric_summaries(), run.probabilities()
    return ({k: summarise(v) for k, v in run.metrics.items()},
            {k: probability(v) for k, v in run.indicators.items()})


def party_frame(runs: dict):
    """The comparison by party (``sibsim.views.party_table``) of ``label -> run or ModelView`` as a DataFrame:
    rows (party, figure), one column per run; "no investor" where a model has none."""
    import pandas as pd

    symbol = outputs.SYMBOLS.get(next(iter(runs.values())).scenario.currency, "")
    rows = views.party_table({label: results(r) for label, r in runs.items()}, symbol=symbol)
    df = pd.DataFrame([cells for _, _, cells in rows],
                      index=pd.MultiIndex.from_tuples([(p, lab) for p, lab, _ in rows], names=["party", "figure"]))
    return df


def show_table(df, **kw) -> None:
    """A DataFrame in full: tall enough for every row (no long table squeezed into a ten-row box)."""
    st.dataframe(df, height=min(36 * (len(df) + 1) + 3, 2400), width="stretch", **kw)


def glossary() -> None:
    with st.expander("Glossary"):
        st.markdown("\n".join(f"- **{k}**: {v}" for k, v in outputs.GLOSSARY.items()))


def run_key(run) -> str:
    model = f"-{run.model}" if isinstance(run, ModelView) else ""
    return f"{run.scenario.content_hash}-{run.trials}-{run.seed}{model}"


def run_label(run) -> str:
    model = f" · {run.model}" if isinstance(run, ModelView) else ""
    return f"{run.scenario.name}{model} · seed {run.seed} · {run.trials:,} trials"


@st.cache_data(max_entries=128, show_spinner=False)
def figure_png(key: tuple, _make) -> bytes:
    """PNG of the figure ``_make()`` returns, cached on ``key`` (which must identify it)."""
    return plots.to_png(_make())


DELIVERY_FIGURES = ("delivery.mean_wait_periods", "delivery.dropouts_waiting", "delivery.caseworker_utilisation",
                    "delivery.mean_queue_length", "delivery.starts_short_of_plan")  # which; labels: sibsim.outputs


def delivery_figures(run) -> dict[str, tuple[str, str]]:
    """label -> (value, help) for a run with a delivery section (means over trials); empty otherwise."""
    out = {}
    for metric in DELIVERY_FIGURES:
        if metric in run.metrics:
            m = summarise(run.metrics[metric])
            o = outputs.declaration(metric)

            def f(x):
                return outputs.fmt(x, o.unit) + (" periods" if o.unit == "periods" else "")

            out[o.label] = (f(m["mean"]), f"{o.help or o.label}; mean over trials, P5 {f(m['p5'])}, P95 {f(m['p95'])}")
    return out


def headline(run) -> dict[str, tuple[str, str]]:
    """label -> (value, help) for the headline figures of a run (or of one model's view of it)."""
    cur = plots.currency_symbol(run)
    s = {k: summarise(v) for k, v in run.metrics.items() if "." not in k}
    p = {k: probability(v) for k, v in run.indicators.items()}
    out = {}
    if m := s.get("public_cost"):
        out["Public cost"] = (
            plots.money(m["mean"], cur),
            f"{outputs.label('public_cost')}: mean over trials ± {plots.money(2 * m['mcse'], cur)} "
            f"(2 Monte Carlo s.e.); P5 {plots.money(m['p5'], cur)}, P95 {plots.money(m['p95'], cur)}")
    if m := s.get("outcome_payments"):
        out["Expected outcome payments"] = (
            plots.money(m["mean"], cur),
            f"What the rate card owes, whoever pays it: mean over trials ± {plots.money(2 * m['mcse'], cur)} "
            f"(2 Monte Carlo s.e.); P5 {plots.money(m['p5'], cur)}, P95 {plots.money(m['p95'], cur)}")
    if q := p.get("investor_loss"):
        out["P(investor loss)"] = (f"{q['p']:.1%}", "Share of trials where investors get back less than they put "
                                                    f"in (± {2 * q['se']:.1%}, 2 s.e.)")
    elif "public_cost" in s:
        out["P(investor loss)"] = (views.NO_INVESTOR, "This finance model has no investors")
    if irr := s.get("investor_irr"):
        out["Median investor IRR"] = (_pct(irr["p50"]), f"Annual; P5 {_pct(irr['p5'])}, P95 {_pct(irr['p95'])}; "
                                                        f"{irr['nan']:,} trials undefined")
    if g := s.get("investor_net_gain"):
        out["Mean investor net gain"] = (plots.money(g["mean"], cur), "Distributions less drawdowns, mean over "
                                         f"trials ± {plots.money(2 * g['mcse'], cur)} (2 s.e.); "
                                         f"P5 {plots.money(g['p5'], cur)}")
    c = s.get("public_cost_per_additional_outcome") or s.get("cost_per_additional_outcome")
    if c:
        n = run.trials
        name = "public_cost_per_additional_outcome" if "public_cost_per_additional_outcome" in s \
            else "cost_per_additional_outcome"
        undefined = f"; undefined in {c['nan']:,} of {n:,} trials (no additional outcome)" if c["nan"] else ""
        out["Cost per additional outcome"] = (
            plots.money(c["p50"], cur) if c["nan"] <= n / 2 else "n/a",
            f"Median over trials of {outputs.label(name).lower()}; mean {plots.money(c['mean'], cur)}" + undefined)
    if d := s.get("deadweight_share"):
        out["Deadweight share"] = (_pct(d["mean"], 0), "Mean share of outcome payments owed that pay for outcomes "
                                                       "that would have happened anyway")
    if q := p.get("insolvency"):
        out["Provider insolvency risk"] = (f"{q['p']:.1%}", "The provider's cash goes below its overdraft limit "
                                                            f"(± {2 * q['se']:.1%}, 2 s.e.)")
    return out


def _pct(x, digits: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}%}"


def summary_table(run):
    """The run's summaries for people: one row per output, grouped by party, labels and formats declared
    in ``sibsim.outputs`` (the last column is the output's name, as in the JSON)."""
    import pandas as pd

    symbol = outputs.SYMBOLS.get(run.scenario.currency, "")
    s = run.metric_summaries()
    rows = []
    for party, names in outputs.by_party(s).items():
        for k in names:
            x = s[k]
            rows.append({"party": outputs.PARTIES[party], "output": outputs.label(k),
                         **{col: outputs.fmt_output(k, x[stat], symbol=symbol)
                            for col, stat in (("mean", "mean"), ("± mcse", "mcse"), ("P5", "p5"), ("P50", "p50"),
                                              ("P95", "p95"))},
                         "undefined": f"{x['nan']:,}", "name": k})
    return pd.DataFrame(rows).set_index(["party", "output"])


def probability_table(run):
    """run.probabilities() for people: one row per indicator, by party (acceptability-curve points left out)."""
    import pandas as pd

    probs = {k: v for k, v in run.probabilities().items() if outputs.curve_point(k) is None}
    rows = [{"party": outputs.PARTIES[party], "event": outputs.probability_label(k),
             "probability": outputs.fmt(probs[k]["p"], "probability"),
             "± s.e.": outputs.fmt(probs[k]["se"], "probability"), "name": k}
            for party, names in outputs.by_party(probs).items() for k in names]
    return pd.DataFrame(rows).set_index(["party", "event"])


# ---------------------------------------------------------------- evidence base


@st.cache_resource(show_spinner=False)
def _open_store(url: str | None):
    from sibsim.store import open_store

    return open_store(url)


def store():
    """``(store, None)``, or ``(None, reason)`` when the evidence base cannot be used."""
    try:
        return _open_store(os.environ.get("SIBSIM_DB") or None), None
    except Exception as e:  # noqa: BLE001 - whatever the database says, the rest of the app still works
        return None, f"The evidence base could not be opened: {e}"


def stored_run(store, run_id: int) -> sibsim.Run:
    """Regenerate a stored run exactly from its canonical JSON, seed, trials and every finance model it had."""
    rec = store.get_run(run_id)
    return simulate_cached(rec["scenario"]["canonical_json"], int(rec["trials"]), int(rec["seed"]),
                           tuple((rec.get("finance_models") or [])[1:]))


@st.cache_data(show_spinner=False, ttl=600)
def reference_projects(url: str | None):
    """INDIGO projects: from the evidence base if loaded there, else the snapshot shipped with sibsim."""
    st_, _ = store()
    if st_ is not None:
        try:
            return st_.reference_projects(), "evidence base"
        except SibsimError:
            pass
    from sibsim import indigo

    return indigo.load().projects, "INDIGO snapshot shipped with sibsim"


def reference_values(sc: sibsim.Scenario, run=None) -> dict[str, float]:
    """The scenario's size and prices, in the terms of ``sibsim.indigo.reference_class``.

    Participants: mean starts of ``run`` when it is a run of this scenario,
    else the contract maximum or the scheduled starts. Maximum outcome
    payments: the contract cap. Price: the median rate-card price. Capital:
    the investors' commitment. A parameter name stands for its prior mean.
    """
    def num(v):
        if v is None:
            return None
        return float(sc.priors[v].mean) if isinstance(v, str) else float(v)

    out = {}
    if run is not None and run.scenario.content_hash == sc.content_hash:
        out["participants"] = float(np.mean(run.metrics["participants"]))
    elif sc.participants.max_participants is not None:
        out["participants"] = float(sc.participants.max_participants)
    elif sc.participants.starts.kind == "schedule":
        out["participants"] = float(sum(sc.participants.starts.per_period))
    cap = num(sc.rate_card.cap_total)
    if cap is not None:
        out["max_outcome_payments"] = cap
    prices = [num(v) for v in sc.rate_card.prices.values()]
    if prices:
        out["price_per_outcome"] = float(np.median(prices))
    commit = num(sc.finance.sib.capital_commitment)
    if commit is not None:
        out["capital"] = commit
    return out
