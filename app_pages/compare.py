"""Compare page: any list of runs side by side (pinned, shipped scenarios, finance models, saved runs).

Runs computed here share one seed, so every scenario and finance model is
evaluated on common random numbers: differences between them are
differences of structure, not of luck.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import common
from sibsim import outputs, spec, views
from sibsim.errors import SibsimError
from sibsim.plots import runs as plots

ss = st.session_state

st.title("Compare")
st.caption("Choose runs to put side by side. Runs computed on this page share the seed below (common random "
           "numbers), so differences come from the scenarios and finance models, not from luck.")

sc = ss.scenario
models = common.finance_models()
store, reason = common.store()

c1, c2 = st.columns(2)
with c1:
    pinned = st.multiselect("Runs added from the Run page", list(ss.compare), default=list(ss.compare),
                            key="cmp_pinned")
    shipped = st.multiselect("Shipped scenarios", list(common.shipped()), key="cmp_shipped")
    current = st.checkbox("The current scenario", value=False, key="cmp_current", disabled=sc is None)
with c2:
    if len(models) > 1 and sc is not None:
        chosen_models = st.multiselect("The current scenario under each finance model (same draws)", models,
                                       key="cmp_models")
    else:
        chosen_models = []
        st.caption(f"Finance models in this version: {', '.join(models)}. Other models (payment by results, "
                   "fee for service, hybrid) will be listed here and compared on common draws when they exist.")
    saved = []
    if store is not None:
        listed = {r["id"]: r for r in store.list_runs()}
        saved = st.multiselect("Saved runs (rerun exactly from their scenario, seed and trials)", list(listed),
                               format_func=lambda i: f"#{i} {listed[i]['name']} · seed {listed[i]['seed']} · "
                                                     f"{listed[i]['trials']:,} trials"
                                                     + (f" · {', '.join(listed[i]['tags'])}" if listed[i]['tags']
                                                        else ""),
                               key="cmp_saved")
    else:
        st.caption(reason)
t1, t2 = st.columns(2)
trials = int(t1.number_input("Trials for runs computed here", min_value=100, max_value=200_000, step=1_000,
                             value=ss.opts["trials"], key="cmp_trials"))
seed = int(t2.number_input("Seed (common to all of them)", min_value=0, max_value=2**31 - 1,
                           value=ss.opts["seed"], key="cmp_seed"))

runs: dict[str, object] = {k: ss.compare[k] for k in pinned}
with st.spinner("Running…"):
    for name in shipped:
        runs[f"{name} (shipped)"] = common.simulate_cached(spec.load(common.shipped()[name]).canonical_json(),
                                                           trials, seed)
    if current and sc is not None:
        runs[f"{sc.name} (current)"] = common.simulate_cached(sc.canonical_json(), trials, seed)
    if chosen_models:  # one run evaluates every model on the same draws
        others = tuple(m for m in chosen_models if m != common.own_model(sc))
        try:
            both = common.simulate_cached(sc.canonical_json(), trials, seed, others)
            for m, view in common.model_views(both, chosen_models).items():
                runs[f"{sc.name} · {m}"] = view
        except SibsimError as e:
            st.error(f"Finance models {', '.join(chosen_models)}: {e}")
    for rid in saved:
        runs[f"#{rid} {listed[rid]['name']}"] = common.stored_run(store, rid)

if not runs:
    st.info("Nothing to compare yet: add runs from the Run page, or pick shipped scenarios, finance models or "
            "saved runs above.")
    st.stop()
if st.button("Clear runs added from the Run page", key="cmp_clear"):
    ss.compare = {}
    st.rerun()

st.caption(f"Comparing {len(runs)} run{'s' * (len(runs) != 1)}: " + "; ".join(runs))
ids = tuple((label, common.run_key(r)) for label, r in runs.items())
st.subheader("By party")
st.table(common.party_frame(runs))
st.caption("Commissioner: the public sector (local commissioner and outcomes fund). \"no investor\": that run or "
           "finance model has no investors. Models of one run share its draws, so their differences are paired.")
if len(runs) > 1:
    first = next(iter(runs))
    diffs = views.run_differences(runs)
    symbol = outputs.SYMBOLS.get(sc.currency if sc is not None else "", "")
    frame = pd.DataFrame({label: {outputs.label(k): f"{outputs.fmt_output(k, d['difference'], symbol=symbol)} ± "
                                                    f"{outputs.fmt_output(k, d['se'], symbol=symbol)}"
                                                    + ("" if d["paired"] else " (independent)")
                                  for k, d in row.items()} for label, row in diffs.items()})
    st.markdown(f"**Mean difference from {first}** (± standard error of the paired difference where the runs "
                "share seed and trials; \"independent\" otherwise)")
    st.table(frame.fillna("no investor"))
st.subheader("Headline figures")
st.dataframe(pd.DataFrame({label: {k: v for k, (v, _) in common.headline(r).items()} for label, r in runs.items()}).T,
             width="stretch")

st.subheader("Distributions")
shared = set.intersection(*(set(r.metrics) for r in runs.values()))
shared = [m for names in outputs.by_party(shared).values() for m in names
          if all(np.isfinite(np.asarray(r.metrics[m], dtype=float)).any() for r in runs.values())]
default = next((m for m in ("public_cost", "commissioner_cost", "outcome_payments") if m in shared), None)
metric = st.selectbox("Metric (defined for every run shown)", shared,
                      index=shared.index(default) if default else 0, format_func=outputs.label, key="cmp_metric")
st.image(common.figure_png((ids, "hist", metric), lambda: plots.hist(runs, metric, figsize=(9, 3.6))),
         width="stretch")

left, right = st.columns(2)
with left:
    st.subheader("Investors' risk and return")
    invested = {label: r for label, r in runs.items() if "investor_net_gain" in r.metrics}
    if invested:
        kind = st.radio("Axes", ["loss", "irr"], horizontal=True, key="cmp_rr",
                        format_func={"loss": "P(loss) vs mean net gain", "irr": "P5 vs median IRR"}.get)
        st.image(common.figure_png((ids, "risk_return", kind), lambda: plots.risk_return(invested, kind=kind)),
                 width="stretch")
    if len(invested) < len(runs):
        st.caption("No investor in: " + "; ".join(label for label in runs if label not in invested) + ".")
with_vfm = {}  # one entry per distinct run: a model's view and the run it came from share the curves
for label, r in runs.items():
    base = getattr(r, "run", r)
    if plots.has_acceptability_data(base) and all(common.run_key(getattr(o, "run", o)) != common.run_key(base)
                                                   for o in with_vfm.values()):
        with_vfm[label] = base
if with_vfm:  # only when the runs carry the appraisal's acceptability indicators
    with right:
        st.subheader("Acceptability")
        st.image(common.figure_png((tuple(i for i in ids if i[0] in with_vfm), "acceptability"),
                                   lambda: plots.acceptability(with_vfm)), width="stretch")
        st.caption("Probability that one option gives more net benefit than another, by willingness to pay per "
                   "additional outcome (from the scenario's value-for-money appraisal).")

common.glossary()
