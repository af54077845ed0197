"""Readiness page: can our organisation carry this contract? Written for a charity's finance lead.

Reads the provider's reserves, turnover and acceptable risk, calls
:func:`sibsim.readiness.readiness` on the current scenario (cached) and draws
:func:`sibsim.plots.readiness.readiness_reserves`. No model logic here.
"""

from __future__ import annotations

import streamlit as st

from app_pages import common
from sibsim.plots import readiness as rplots
from sibsim.plots.runs import money
from sibsim.readiness import MODEL_LABELS, readiness

ss = st.session_state


@st.cache_data(max_entries=32, show_spinner=False)
def cached(canonical_json: str, trials: int, seed: int, risk: float, reserves: float, turnover: float | None):
    import json

    from sibsim import spec

    sc = spec.validate(json.loads(canonical_json))
    return readiness(sc, trials=trials, seed=seed, risk=risk, reserves=reserves, annual_turnover=turnover)


st.title("Can we carry this contract?")
sc = ss.scenario
if sc is None:
    st.warning("The current scenario has problems; fix them on the Scenario page first.\n\n"
               + common.problem_lines(ss.problems))
    st.stop()

st.markdown(
    f"For **{sc.name}**: how much cash your organisation would need under each way of paying for the service, "
    "and how likely it is to run out. Enter your own figures; nothing is saved.")
prov = sc.finance.provider
default_reserves = float(prov.reserves) if prov is not None and isinstance(prov.reserves, float) else 50_000.0
default_turnover = (float(prov.annual_turnover) if prov is not None and isinstance(prov.annual_turnover, float)
                    else 500_000.0)
c1, c2, c3 = st.columns(3)
reserves = c1.number_input(f"Reserves you could use ({sc.currency})", min_value=0.0, value=default_reserves,
                           step=10_000.0, key="rd_reserves",
                           help="Unrestricted cash you could put into this contract")
turnover = c2.number_input(f"Annual turnover ({sc.currency})", min_value=0.0, value=default_turnover,
                           step=50_000.0, key="rd_turnover", help="Your organisation's whole income in a year")
risk_pct = c3.slider("Acceptable chance of running out of cash (%)", min_value=1, max_value=25, value=5,
                     key="rd_risk")
t1, t2 = st.columns(2)
trials = int(t1.number_input("Trials", min_value=200, max_value=100_000, step=1_000,
                             value=min(ss.opts["trials"], 5_000), key="rd_trials"))
seed = int(t2.number_input("Seed", min_value=0, max_value=2**31 - 1, value=ss.opts["seed"], key="rd_seed"))
with st.spinner("Simulating…"):
    r = cached(sc.canonical_json(), trials, seed, risk_pct / 100, float(reserves), float(turnover) or None)

sym = {"GBP": "£", "USD": "$", "EUR": "€"}.get(sc.currency, sc.currency + " ")
st.subheader("In short")
for m in r.models:
    name = MODEL_LABELS.get(m.model, m.model)
    if m.reserves_needed <= 0 and m.peak_working_capital_p95 <= 0:
        st.markdown(f"- **{name}**: you would not need to fund any of the work yourself.")
        continue
    verdict = ("enough" if m.reserves_needed <= reserves else
               f"**{money(m.reserves_needed - reserves, sym)} short**")
    st.markdown(
        f"- **{name}**: to keep the chance of running out of cash at or below {risk_pct}% you would need about "
        f"**{money(m.reserves_needed, sym)}** of reserves (you have {money(reserves, sym)}: {verdict}). "
        f"With your reserves the chance is **{m.p_insolvency:.0%}**. At worst (1 in 20) the contract ties up "
        f"{money(m.peak_working_capital_p95, sym)} before payments come in"
        + (f", {m.turnover_share_peak:.0%} of a year's turnover" if m.turnover_share_peak is not None else "")
        + (f"; the low point typically comes in {sc.period} {int(m.peak_period_p50) + 1}"
           if m.peak_period_p50 == m.peak_period_p50 else "") + ".")
st.image(common.figure_png(("readiness", sc.content_hash, trials, seed, risk_pct, reserves, turnover),
                           lambda: rplots.readiness_reserves(r)), width="stretch")

st.subheader("The figures")
df = r.to_frame()
df.index = [MODEL_LABELS.get(i, i) for i in df.index]
show = {"p_insolvency": ("Chance of running out of cash", "{:.1%}"),
        "reserves_needed": ("Reserves needed", "{:,.0f}"),
        "reserves_mcse": ("± (simulation error)", "{:,.0f}"),
        "peak_working_capital_p50": ("Cash tied up, typical", "{:,.0f}"),
        "peak_working_capital_p95": ("Cash tied up, 1 in 20", "{:,.0f}"),
        "turnover_share_var": ("Loss at 1 in 20, share of turnover", "{:.1%}"),
        "contract_share_of_turnover": ("Contract income, share of turnover", "{:.0%}")}
table = df[list(show)].rename(columns={k: v[0] for k, v in show.items()})
st.dataframe(table.style.format({v[0]: v[1] for v in show.values()}, na_rep="-"), width="stretch")
with st.expander("What these mean"):
    st.markdown(
        "- **Running out of cash**: your balance falls below your overdraft limit at some point in the contract "
        "(reserves plus what the contract pays you, less what delivery costs, less overdraft interest).\n"
        "- **Reserves needed**: the least starting cash that keeps that chance at or below your limit, found by "
        "trying amounts on the same simulated futures; the ± is how much it could move with more trials.\n"
        "- **Cash tied up**: the deepest the contract's own cash goes before payments catch up (working capital).\n"
        "- The simulated futures draw the uncertain inputs (how many people take part, how many achieve "
        "outcomes, costs) from the scenario. Transaction costs your organisation pays (bids, data systems) are "
        "included when the scenario lists them.\n"
        "- Command line: `sibsim readiness SCENARIO --provider-reserves AMOUNT --risk 0.05`.")
