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
from sibsim import spec
from sibsim.errors import ScenarioError, SibsimError
from sibsim.metrics import probability, summarise
from sibsim.plots import runs as plots

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_DIR = ROOT / "scenarios"
DEFAULT_SCENARIO = "benchmark"
MAX_UPLOAD_BYTES = 1_000_000
DEFAULT_TRIALS, DEFAULT_SEED = 10_000, 1
MIN_TRIALS, MAX_TRIALS = 100, 200_000  # the Run page's Trials box
DELIVERY_TRIALS = 2_000  # issue 14: a delivery scenario's trials simulate a waiting list each, about 50x slower
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
def simulate_cached(canonical_json: str, trials: int, seed: int, finance: tuple[str, ...] = (), _run=None) -> sibsim.Run:
    """``sibsim.simulate`` of the scenario given by its canonical JSON (cached per process).

    ``finance``: other finance models to evaluate on the same draws. ``_run``: the run of these
    arguments, already simulated (:func:`simulate_with_progress`), to keep in the cache.
    """
    if _run is not None:
        return _run
    sc = spec.validate(json.loads(canonical_json))
    extra = {"finance": tuple(finance)} if finance else {}
    return sibsim.simulate(sc, trials=int(trials), seed=int(seed), **extra)


@st.cache_resource(show_spinner=False)
def _simulated() -> set:
    return set()


def simulate_with_progress(canonical_json: str, trials: int, seed: int, finance: tuple[str, ...], progress,
                           chunk: int | None = None) -> sibsim.Run:
    """:func:`simulate_cached`, calling ``progress(done, trials)`` after each chunk when it must simulate.

    The bar is drawn outside the cached function (Streamlit replays the elements a cached function
    draws); the run is then handed to the cache. ``chunk`` changes no number, only how often the bar moves.
    """
    key = (canonical_json, int(trials), int(seed), tuple(finance))
    if key in _simulated():
        return simulate_cached(*key)  # computed before (recomputed without a bar if since evicted)
    extra = {"finance": tuple(finance)} if finance else {}
    if chunk is not None:
        extra["chunk"] = int(chunk)
    run = sibsim.simulate(spec.validate(json.loads(canonical_json)), trials=int(trials), seed=int(seed),
                          progress=progress, **extra)
    _simulated().add(key)
    return simulate_cached(*key, _run=run)


def suggested_trials(sc: sibsim.Scenario) -> int:
    """The Run page's trials for a scenario: fewer for a delivery scenario (a discrete-event model per trial)."""
    return DELIVERY_TRIALS if sc.delivery is not None else DEFAULT_TRIALS


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
    """One finance model's side of a run that evaluated several on the same draws.

    The engine reports the scenario's own model under plain names and each
    other model under its prefix (``pbr.investor_irr``); a view strips the
    prefix so that plots and headline figures read it like a run. Per-period
    cash (``paths``) is kept for the own model only.
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
    """``model -> run or ModelView``: the own model and each other model the run evaluated (or those in ``models``)."""
    known = set(finance_models())
    own = own_model(run.scenario)

    def shared(d):  # not of any one model (participants, outcomes, payments)
        return {k: v for k, v in d.items() if k.partition(".")[0] not in known | {"vfm"}}

    def of(d, m):
        return {**shared(d), **{k[len(m) + 1:]: v for k, v in d.items() if k.startswith(m + ".")}}

    out = {}
    for m in [own, *sorted(known - {own})]:
        if models is not None and m not in models:
            continue
        if m == own:
            out[m] = run
        elif any(k.startswith(m + ".") for k in run.metrics):
            out[m] = ModelView(run, m, of(run.metrics, m), of(run.indicators, m), {})
    return out


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


DELIVERY_FIGURES = {  # metric -> (label, format, help); labels short enough for a card (issue 14)
    "delivery.mean_wait_periods": ("Mean wait", "{:.2f} periods", "Mean time on the waiting list of those who started"),
    "delivery.dropouts_waiting": ("Drop-outs", "{:,.0f}", "Drop-outs while waiting: people who gave up before a "
                                                           "caseworker was free"),
    "delivery.caseworker_utilisation": ("Utilisation", "{:.0%}", "Caseworker utilisation: time-average busy slots / "
                                                               "slots in post"),
    "delivery.mean_queue_length": ("Waiting list", "{:.1f}", "Mean waiting list: time-average number waiting"),
    "delivery.starts_short_of_plan": ("Starts short", "{:,.0f}", "Starts short of plan: expected referrals (capped "
                                                                 "at the contract maximum) less actual starts"),
}


def delivery_figures(run) -> dict[str, tuple[str, str]]:
    """label -> (value, help) for a run with a delivery section (means over trials); empty otherwise."""
    out = {}
    for metric, (label, fmt, help_) in DELIVERY_FIGURES.items():
        if metric in run.metrics:
            m = summarise(run.metrics[metric])
            out[label] = (fmt.format(m["mean"]), f"{help_}; mean over trials, P5 {fmt.format(m['p5'])}, "
                                                 f"P95 {fmt.format(m['p95'])}")
    return out


def headline(run) -> dict[str, tuple[str, str]]:
    """label -> (value, help) for the headline figures of a run (or of one model's view of it)."""
    cur = plots.currency_symbol(run)
    s = {k: summarise(v) for k, v in run.metrics.items() if "." not in k}
    p = {k: probability(v) for k, v in run.indicators.items()}
    out = {}
    if m := s.get("outcome_payments"):
        out["Expected outcome payments"] = (
            plots.money(m["mean"], cur),
            f"Mean over trials ± {plots.money(2 * m['mcse'], cur)} (2 Monte Carlo s.e.); "
            f"P5 {plots.money(m['p5'], cur)}, P95 {plots.money(m['p95'], cur)}")
    if q := p.get("investor_loss"):
        out["P(investor loss)"] = (f"{q['p']:.1%}", "Share of trials where investors get back less than they put "
                                                    f"in (± {2 * q['se']:.1%}, 2 s.e.)")
    if irr := s.get("investor_irr"):
        out["Median investor IRR"] = (_pct(irr["p50"]), f"Annual; P5 {_pct(irr['p5'])}, P95 {_pct(irr['p95'])}; "
                                                        f"{irr['nan']:,} trials undefined")
    if g := s.get("investor_net_gain"):
        out["Mean investor net gain"] = (plots.money(g["mean"], cur), "Distributions less drawdowns, mean over "
                                         f"trials ± {plots.money(2 * g['mcse'], cur)} (2 s.e.); "
                                         f"P5 {plots.money(g['p5'], cur)}")
    if c := s.get("cost_per_additional_outcome"):
        n = run.trials
        undefined = f"; undefined in {c['nan']:,} of {n:,} trials (no additional outcome)" if c["nan"] else ""
        out["Cost per additional outcome"] = (
            plots.money(c["p50"], cur) if c["nan"] <= n / 2 else "n/a",
            f"Median over trials of outcome payments / additional outcomes; mean {plots.money(c['mean'], cur)}"
            + undefined)
    if d := s.get("deadweight_share"):
        out["Deadweight share"] = (_pct(d["mean"], 0), "Mean share of outcome payments that paid for outcomes "
                                                       "that would have happened anyway")
    for name, q in p.items():  # the own model's, then those of models evaluated on the same draws
        model, _, what = name.rpartition(".")
        if what == "insolvency" and model != "vfm":
            out["Provider insolvency risk" + (f" ({model})" if model else "")] = (
                f"{q['p']:.1%}", f"P({name}): the provider's cash goes below its overdraft limit "
                                 f"(± {2 * q['se']:.1%}, 2 s.e.)")
    return out


def _pct(x, digits: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}%}"


def summary_table(run):
    """run.summary() with readable row labels."""
    return run.summary().rename(index=plots.metric_label)


def probability_table(run):
    """run.probabilities() as a DataFrame: one row per indicator (not the points of acceptability curves)."""
    import pandas as pd

    probs = {k: v for k, v in run.probabilities().items() if "@" not in k}
    return pd.DataFrame.from_dict(probs, orient="index").rename(index=lambda k: k.replace("_", " "))


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
    """Regenerate a stored run exactly from its canonical JSON, seed and trials."""
    rec = store.get_run(run_id)
    return simulate_cached(rec["scenario"]["canonical_json"], int(rec["trials"]), int(rec["seed"]))


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
