"""Value of information page: is better evidence worth it? EVPI over willingness to pay, EVPPI per parameter,
EVSI and ENBS of a study against its size, and the measurement design of a measured-outcome contract.

Reads widgets, calls ``sibsim.voi`` and ``sibsim.valueinfo.design`` (cached on hashable arguments) and draws
with ``sibsim.plots.voi``; no model logic here (docs/voi.md).
"""

from __future__ import annotations

import streamlit as st

import sibsim
from app_pages import common
from sibsim.dists import Fixed
from sibsim.errors import SibsimError
from sibsim.plots import voi as vplots
from sibsim.valueinfo import Population, design

ss = st.session_state


@st.cache_resource(max_entries=8, show_spinner=False)
def voi_cached(canonical_json: str, options: tuple, wtp: tuple, evppi: tuple | None, evsi: str | None,
               pop: tuple, trials: int, seed: int):
    sc = sibsim.loads(canonical_json)
    return sibsim.voi(sc, options=options, wtp=wtp, evppi=list(evppi) if evppi else None, evsi=evsi,
                      population=Population(*pop), trials=trials, seed=seed, draws=100)


@st.cache_resource(max_entries=4, show_spinner=False)
def design_cached(canonical_json: str, sizes: tuple, scales: tuple, trials: int, seed: int, cost: float):
    return design.evaluate(sibsim.loads(canonical_json), sizes=sizes, trigger_scales=scales, trials=trials,
                           seed=seed, cost_per_member=cost)


def numbers(text: str, what: str) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        st.error(f"{what}: give comma-separated numbers; got {text!r}")
        return None
    return vals


st.title("Value of information")
st.caption("What would better evidence be worth to the commissioner's choice between a SIB, direct payment by "
           "results, a fee, or not commissioning, and how big should the evaluation be? Net benefit = "
           "willingness to pay × additional outcomes − public cost (present value, optimism bias on fees); "
           "'appraisal' values outcomes at the scenario's own values.")
sc = ss.scenario
if sc is None:
    st.warning("The current scenario has problems: fix them on the Scenario page.")
    st.stop()

uncertain = sorted(k for k, p in sc.priors.items() if not isinstance(p, Fixed))
c1, c2 = st.columns(2)
with c1:
    options = st.multiselect("Options", common.finance_models() + ["none"],
                             default=[m for m in ("sib", "pbr", "fee", "none")], key="voi_options")
    wtp_text = st.text_input("Willingness to pay per additional outcome (comma-separated; 'appraisal' for the "
                             "scenario's values)", "0,10000,30000", key="voi_wtp")
    targets = st.multiselect("EVPPI of", uncertain, default=uncertain, key="voi_evppi",
                             help="each parameter on its own (P-spline GAM); add a group on the command line "
                                  "with a+b")
with c2:
    field = st.selectbox("EVSI: vary this study design field", ["(no EVSI)", "comparison_size", "pilot_size"],
                         key="voi_field")
    rng_text = st.text_input("Sizes (start:stop:step)", "100:1100:250", key="voi_sizes")
    p1, p2 = st.columns(2)
    per_year = p1.number_input("Decisions informed a year", min_value=0.0, value=1.0, step=1.0, key="voi_dpy")
    years = int(p2.number_input("for years", min_value=1, max_value=50, value=1, key="voi_years"))
t1, t2 = st.columns(2)
trials = int(t1.number_input("Trials", min_value=200, max_value=50_000, value=2_000, step=500, key="voi_trials"))
seed = int(t2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=ss.opts["seed"], key="voi_seed"))

if st.button("Compute value of information", key="voi_go", type="primary"):
    ss.voi_args = (sc.canonical_json(), tuple(options), tuple(w.strip() for w in wtp_text.split(",") if w.strip()),
                   tuple(targets) or None, None if field == "(no EVSI)" else f"{field}={rng_text}",
                   (float(per_year), years, sc.discount_rate_annual), trials, seed)

args = ss.get("voi_args")
if args is not None and args[0] == sc.canonical_json():
    try:
        with st.spinner("Simulating and fitting…"):
            res = voi_cached(*args)
    except SibsimError as e:
        st.error(str(e))
        res = None
    if res is not None:
        st.subheader("EVPI and EVPPI by willingness to pay")
        st.dataframe(res.table().style.format(precision=0, thousands=","), width="stretch", hide_index=True)
        left, right = st.columns(2)
        numeric = [k for k in res.evpi if k != "appraisal"]
        with left:
            if numeric:
                st.image(common.figure_png((args, "evpi"), lambda: vplots.evpi_curve(res)), width="stretch")
        with right:
            at = st.selectbox("EVPPI at willingness to pay", list(res.evpi), key="voi_bar_wtp")
            st.image(common.figure_png((args, "evppi", at), lambda: vplots.evppi_bars(res, at)), width="stretch")
        if res.evsi:
            st.subheader("Is a bigger study worth it?")
            at_s = st.selectbox("EVSI at willingness to pay", list(res.evsi), key="voi_evsi_wtp")
            c = res.evsi[at_s]
            st.image(common.figure_png((args, "evsi", at_s), lambda: vplots.evsi_curve(res, at_s)), width="stretch")
            st.write(f"Optimal {c.field.replace('_', ' ')}: **{c.optimal:,}**" if c.optimal is not None else
                     "No study size has a positive expected net benefit of sampling at these costs.")

if sc.measurement is not None:
    st.divider()
    st.subheader("Measurement design of this contract")
    fld = design.size_field(sc)
    d1, d2, d3 = st.columns(3)
    sizes = numbers(d1.text_input(f"Comparison {fld.replace('_', ' ')} values", "1,3,10", key="voi_d_sizes"),
                    "sizes")
    scales = numbers(d1.text_input("Trigger multipliers", "0.75,1,1.25", key="voi_d_scales"), "multipliers")
    a = d2.number_input("Risk limit: P(pay when no effect)", 0.0, 1.0, 0.05, 0.01, key="voi_d_a")
    b = d2.number_input("Risk limit: P(no pay at target)", 0.0, 1.0, 0.2, 0.01, key="voi_d_b")
    cost = d3.number_input("Evaluation cost per comparison member", 0.0, value=50.0, step=10.0, key="voi_d_cost")
    dtrials = int(d3.number_input("Trials per design", 100, 20_000, 1_000, 100, key="voi_d_trials"))
    if st.button("Chart designs", key="voi_d_go") and sizes and scales:
        if min(sizes) <= 0 or min(scales) < 0:
            st.error("Sizes must be > 0 and multipliers >= 0.")
        else:
            ss.voi_design = (sc.canonical_json(), sizes, scales, dtrials, seed, float(cost))
    dargs = ss.get("voi_design")
    if dargs is not None and dargs[0] == sc.canonical_json():
        with st.spinner("Simulating designs…"):
            rows = design_cached(*dargs)
        best = design.recommend(rows, max_pay_no_effect=a, max_no_pay_at_target=b)
        st.image(common.figure_png((dargs, a, b, "design"),
                                   lambda: vplots.design_chart(rows, limits=(a, b), recommended=best,
                                                               size_label=fld.replace("_", " "))), width="stretch")
        st.dataframe(design.frame(rows), width="stretch", hide_index=True)
        if best is None:
            st.warning("No design meets both risk limits.")
        else:
            st.success(f"Recommended: {fld.replace('_', ' ')} {best.size:g}, trigger × {best.trigger_scale:g} "
                       f"(P(pay when no effect) {best.p_pay_no_effect:.1%}, P(no pay at target) "
                       f"{best.p_no_pay_at_target:.1%}, expected overpayment + evaluation cost "
                       f"{best.expected_overpayment + best.evaluation_cost:,.0f}).")
