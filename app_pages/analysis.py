"""Analysis page: what drives the results. S-curves and input-output scatter plots of the last run; a tornado,
Sobol or Morris sensitivity analysis; a sweep over one or two inputs; a switching value. Thin: every number
comes from sibsim.sensitivity, sibsim.sweep and sibsim.solve, every figure from sibsim.plots."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from app_pages import common
from sibsim import sensitivity as sens
from sibsim import sweep as sw
from sibsim.errors import SibsimError
from sibsim.plots import analysis as aplots
from sibsim.plots import runs as plots
from sibsim.plots import sensitivity as splots
from sibsim.solve import default_bounds, solve

ss = st.session_state
STATS = ("mean", "p5", "p50", "p95")

st.title("Analysis")
sc = ss.scenario
if sc is None:
    st.warning("The current scenario has problems; fix them on the Scenario page first.\n\n"
               + common.problem_lines(ss.problems))
    st.stop()
st.caption(f"Scenario **{sc.name}** · hash `{sc.content_hash}`. Every analysis reruns the engine on the same "
           "seed at each point (common random numbers), so differences between points are not luck.")


@st.cache_resource(max_entries=8, show_spinner=False)
def _outputs(canonical: str):
    return sw.output_names(sc)


@st.cache_resource(max_entries=16, show_spinner=False)
def _sensitivity(canonical: str, method: str, output: str, stat: str, samples: int, trials: int, seed: int,
                 names: tuple[str, ...]):
    return sens.sensitivity(sc, method=method, output=output, stat=stat, samples=samples, trials=trials, seed=seed,
                            names=list(names) or None)


@st.cache_resource(max_entries=16, show_spinner=False)
def _sweep(canonical: str, points: tuple, trials: int, seed: int):
    rows = sw.evaluate(sc, [dict(p) for p in points], trials=trials, seed=seed)
    return pd.DataFrame([{**dict(p), **r} for p, r in zip(points, rows)])


@st.cache_resource(max_entries=16, show_spinner=False)
def _solve(canonical: str, vary: str, target: str, value: float, bounds: tuple[float, float], trials: int, seed: int):
    return solve(sc, vary=vary, target=target, value=value, bounds=bounds, trials=trials, seed=seed)


metrics, indicators = _outputs(sc.canonical_json())
uncertain = sw.uncertain_parameters(sc)
inputs = sw.input_names(sc)
default_out = "investor_irr" if "investor_irr" in metrics else metrics[0]


def _index(options, value):
    return options.index(value) if value in options else 0


tab_run, tab_tornado, tab_gsa, tab_sweep, tab_solve = st.tabs(
    ["S-curves and scatter", "Tornado", "Sobol / Morris", "Sweep", "Switching value"])

with tab_run:
    run = ss.run
    if run is None or run.scenario.content_hash != sc.content_hash:
        st.info("Run the current scenario on the Run page to see its S-curves and scatter plots here.")
    else:
        a, b = st.columns(2)
        m = a.selectbox("Output", list(run.metrics), index=_index(list(run.metrics), default_out), key="an_scurve",
                        format_func=plots.metric_label)
        a.image(plots.to_png(aplots.s_curve(run, m)), width="stretch")
        if run.params:
            p = b.selectbox("Input (parameter)", list(run.params), key="an_scatter_in")
            b.image(plots.to_png(aplots.input_scatter(run, p, m)), width="stretch")
        else:
            b.info("This scenario has no named parameters to plot against.")

with tab_tornado:
    c1, c2, c3, c4 = st.columns(4)
    out = c1.selectbox("Output", metrics + indicators, index=_index(metrics, default_out), key="an_t_out")
    stat = c2.selectbox("Statistic", ("p", "se") if out in indicators else STATS, key="an_t_stat")
    trials = int(c3.number_input("Trials per point", 200, 50_000, 2_000, step=500, key="an_t_trials"))
    seed = int(c4.number_input("Seed", 0, 2**31 - 1, 1, key="an_t_seed"))
    st.caption(f"Each uncertain parameter at its P10 and P90 with the others at their means: "
               f"{2 * len(uncertain) + 1} runs of {trials:,} trials.")
    if not uncertain:
        st.info("The scenario has no uncertain parameters.")
    elif st.button("Run the tornado", key="an_t_go", type="primary"):
        with st.spinner("Simulating…"):
            try:
                ss.an_tornado = _sensitivity(sc.canonical_json(), "tornado", out, stat, 2, trials, seed, ())
            except SibsimError as e:
                st.error(str(e))
    if (res := ss.get("an_tornado")) is not None:
        st.image(plots.to_png(splots.tornado_chart(res)), width="content")
        st.dataframe(res.to_frame(), width="stretch")

with tab_gsa:
    c1, c2, c3 = st.columns(3)
    method = c1.radio("Method", ("sobol", "morris"), horizontal=True, key="an_g_method",
                      format_func={"sobol": "Sobol (variance shares)", "morris": "Morris (screening)"}.get)
    out = c2.selectbox("Output", metrics + indicators, index=_index(metrics, default_out), key="an_g_out")
    stat = c3.selectbox("Statistic", ("p", "se") if out in indicators else STATS, key="an_g_stat")
    c4, c5, c6 = st.columns(3)
    samples = int(c4.select_slider("Base samples", options=[8, 16, 32, 64, 128, 256, 512], value=32, key="an_g_n"))
    trials = int(c5.number_input("Trials per point", 100, 20_000, 500, step=100, key="an_g_trials"))
    seed = int(c6.number_input("Seed", 0, 2**31 - 1, 1, key="an_g_seed"))
    names = st.multiselect("Parameters", uncertain, default=uncertain, key="an_g_names")
    d = max(len(names), 1)
    runs = samples * (d + 2) if method == "sobol" else samples * (d + 1)
    st.caption(f"{runs:,} runs of {trials:,} trials ({runs * trials:,} trials in all).")
    if len(names) < 2:
        st.info("Choose at least two parameters.")
    elif st.button("Run the analysis", key="an_g_go", type="primary"):
        with st.spinner(f"Simulating {runs:,} points…"):
            try:
                ss.an_gsa = _sensitivity(sc.canonical_json(), method, out, stat, samples, trials, seed, tuple(names))
            except SibsimError as e:
                st.error(str(e))
    if (res := ss.get("an_gsa")) is not None:
        for w in sens.reliability_warnings(res):
            st.warning(w, icon=":material/warning:")
        fig = splots.sobol_bars(res) if res.method == "sobol" else splots.morris_scatter(res)
        st.image(plots.to_png(fig), width="content")
        st.dataframe(res.to_frame(), width="stretch")

with tab_sweep:
    chosen = st.multiselect("Inputs to sweep (one or two)", inputs, default=inputs[:1], max_selections=2,
                            key="an_s_in")
    axes = {}
    for name in chosen:
        try:
            lo, hi = default_bounds(sc, name)
        except SibsimError:
            lo, hi = 0.0, 1.0
        c1, c2, c3 = st.columns(3)
        lo = c1.number_input(f"{name}: from", value=float(lo), format="%.6g", key=f"an_s_lo_{name}")
        hi = c2.number_input(f"{name}: to", value=float(hi), format="%.6g", key=f"an_s_hi_{name}")
        steps = int(c3.number_input(f"{name}: points", 2, 25, 7 if len(chosen) == 1 else 5, key=f"an_s_n_{name}"))
        if not hi > lo:
            c2.error(f"'to' must be above 'from' ({lo:g})")
            axes = {}
            break
        axes[name] = np.linspace(lo, hi, steps)
    c1, c2, c3 = st.columns(3)
    out = c1.selectbox("Output", metrics, index=_index(metrics, default_out), key="an_s_out",
                       format_func=plots.metric_label)
    trials = int(c2.number_input("Trials per point", 100, 50_000, 1_000, step=500, key="an_s_trials"))
    seed = int(c3.number_input("Seed", 0, 2**31 - 1, 1, key="an_s_seed"))
    if axes and st.button("Run the sweep", key="an_s_go", type="primary"):
        pts = tuple(tuple(p.items()) for p in sw.grid(**{k: list(v) for k, v in axes.items()}))
        with st.spinner(f"Simulating {len(pts):,} points…"):
            try:
                ss.an_sweep = (tuple(axes), _sweep(sc.canonical_json(), pts, trials, seed))
            except SibsimError as e:
                st.error(str(e))
    if (got := ss.get("an_sweep")) is not None:
        names_, df = got
        if len(names_) == 1:
            st.image(plots.to_png(splots.sweep_lines(df, names_[0], out)), width="content")
        else:
            col = f"{out}_mean"
            st.image(plots.to_png(aplots.heat_map(df, names_[0], names_[1], col,
                                                  money_symbol=plots.currency_symbol(ss.run or sc))),
                     width="content")
        st.download_button("Sweep table (CSV)", df.to_csv(index=False), file_name="sweep.csv", mime="text/csv",
                           on_click="ignore")

with tab_solve:
    c1, c2, c3 = st.columns(3)
    vary = c1.selectbox("Input to change", inputs, key="an_v_vary")
    out = c2.selectbox("Target output", metrics, index=_index(metrics, default_out), key="an_v_out",
                       format_func=plots.metric_label)
    stat = c3.selectbox("Statistic", STATS, index=2, key="an_v_stat")
    try:
        lo, hi = default_bounds(sc, vary)
    except SibsimError:
        lo, hi = 0.0, 1.0
    c4, c5, c6, c7 = st.columns(4)
    value = c4.number_input("Target value", value=0.05 if out.endswith("_irr") else 0.0, format="%.6g", key="an_v_val")
    lo = c5.number_input("Search from", value=float(lo), format="%.6g", key=f"an_v_lo_{vary}")
    hi = c6.number_input("Search to", value=float(hi), format="%.6g", key=f"an_v_hi_{vary}")
    trials = int(c7.number_input("Trials per point", 200, 50_000, 2_000, step=500, key="an_v_trials"))
    if not hi > lo:
        c6.error(f"'Search to' must be above 'Search from' ({lo:g})")
    elif st.button("Find the switching value", key="an_v_go", type="primary"):
        with st.spinner("Searching…"):
            try:
                sol = _solve(sc.canonical_json(), vary, f"{out}.{stat}", float(value), (float(lo), float(hi)),
                             trials, 1)
                st.success(f"{out}.{stat} = {value:g} when **{vary} = {sol.value:,.6g}** "
                           f"({sol.evaluations} runs of {trials:,} trials; at that value it is {sol.achieved:,.6g}).")
            except SibsimError as e:
                st.error(str(e))
