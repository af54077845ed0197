"""Portfolio page: an outcomes fund's spend across its contracts (a shipped portfolio file).

Reads the portfolio, budget, trials and seed, calls
:func:`sibsim.portfolio.simulate_portfolio` (cached) and draws with
:mod:`sibsim.plots.readiness`. No model logic here.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from sibsim.plots import readiness as rplots
from sibsim.plots.runs import to_png

ROOT = Path(__file__).resolve().parent.parent
PORTFOLIOS = {p.stem: p for p in sorted((ROOT / "portfolios").glob("*.yaml"))}
ss = st.session_state


@st.cache_resource(max_entries=8, show_spinner=False)
def cached(path: str, trials: int, seed: int, budget: float | None):
    from sibsim.portfolio import simulate_portfolio
    from sibsim.portfolio import load_portfolio

    pf, scs = load_portfolio(path)
    if budget is not None:
        pf = pf.model_copy(update={"budget": budget})
    return simulate_portfolio(pf, scenarios=scs, trials=trials, seed=seed)


st.title("Portfolio of an outcomes fund")
st.caption("Many contracts paid from one fund, simulated together: contracts of one kind share the uncertainty "
           "about the intervention's effect, and a common economic shock moves them all. Files in portfolios/.")
if not PORTFOLIOS:
    st.info("No portfolio files found in portfolios/.")
    st.stop()
name = st.selectbox("Portfolio", list(PORTFOLIOS), key="pf_file")
from sibsim.portfolio import load_portfolio  # noqa: E402

pf, _ = load_portfolio(PORTFOLIOS[name])
st.markdown(f"**{pf.name}**")
with st.expander("About this portfolio (sources and assumptions)"):
    st.write(pf.description)
c1, c2, c3 = st.columns(3)
budget = c1.number_input(f"Budget ({pf.currency})", min_value=0.0, value=float(pf.budget or 0.0), step=500_000.0,
                         key="pf_budget", help="0: no budget")
trials = int(c2.number_input("Trials", min_value=100, max_value=50_000, step=500, value=1_000, key="pf_trials"))
seed = int(c3.number_input("Seed", min_value=0, max_value=2**31 - 1, value=ss.opts["seed"], key="pf_seed"))
with st.spinner("Simulating the portfolio…"):
    run = cached(str(PORTFOLIOS[name]), trials, seed, budget or None)
s = run.summary()
sym = {"GBP": "£", "USD": "$", "EUR": "€"}.get(pf.currency, pf.currency + " ")
m1, m2, m3, m4 = st.columns(4)
m1.metric("Total spend (mean)", f"{sym}{s['total_mean']:,.0f}", help=f"Payer: {pf.payer}", border=True)
m2.metric("Total spend, 1 in 20 high", f"{sym}{s['total_p95']:,.0f}", border=True)
ob = s["p_over_budget"]
m3.metric("P(spend exceeds budget)", "-" if ob["p"] != ob["p"] else f"{ob['p']:.1%}", border=True)
m4.metric("Contracts that pay anything", f"{s['share_of_contracts_paying_mean']:.0%}", border=True)
if "sib_contracts" in s:
    p = s["p_investors_lose_overall"]["p"]
    st.caption(f"Investors across {s['sib_contracts']} SIBs: mean net gain {sym}{s['investor_net_gain_mean']:,.0f}; "
               f"losses on losing contracts {sym}{s['investor_losses_mean']:,.0f} on average; "
               f"P(they lose overall) {p:.1%}.")
left, right = st.columns(2)
left.image(to_png(rplots.portfolio_by_year(run)), width="stretch")
right.image(to_png(rplots.portfolio_total(run)), width="stretch")
st.subheader("Contracts")
t = run.per_contract()
st.dataframe(t.style.format({"spend_mean": "{:,.0f}", "share_of_total": "{:.1%}", "share_of_variance": "{:.1%}",
                             "p_pays_anything": "{:.0%}", "investor_gain_mean": "{:,.0f}",
                             "p_investor_loss": "{:.1%}"}, na_rep="-"), width="stretch")
st.caption("Share of variance: each contract's contribution to the uncertainty of the total (its covariance "
           "with the total over the total's variance). Command line: "
           f"`sibsim portfolio portfolios/{name}.yaml --trials 10000 --seed 1`.")
