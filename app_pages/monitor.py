"""Monitor page: a running contract's observations, the posterior they give, and the re-forecast of the rest."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from app_pages import common
from sibsim import spec
from sibsim.dists import Fixed
from sibsim.errors import SibsimError
from sibsim.observe import read_observations, synthesize
from sibsim.plots import monitor as mplots
from sibsim.plots.runs import currency_symbol, money

ss = st.session_state


@st.cache_resource(max_entries=8, show_spinner=False)
def reforecast_cached(canonical_json: str, obs_csv: str, trials: int, seed: int):
    """``sibsim.reforecast`` of the scenario and observations given as text (cached per process)."""
    from sibsim.reforecasting import reforecast

    sc = spec.validate(json.loads(canonical_json))
    return reforecast(sc, read_observations(obs_csv, sc), trials=int(trials), seed=int(seed))


st.title("Monitor")
sc = ss.scenario
if sc is None:
    st.warning("The current scenario has problems; fix them on the Scenario page first.\n\n"
               + common.problem_lines(ss.problems))
    st.stop()
st.caption(f"Scenario **{sc.name}** · hash `{sc.content_hash}`. Record what a running contract has achieved, "
           "update the priors and re-forecast the rest (docs/monitoring.md explains the method and its limits).")

source = st.radio("Observations", ["Synthetic, from a chosen truth", "Upload a CSV file", "Saved observation set"],
                  horizontal=True, key="mon_source")
if source.startswith("Synthetic"):
    names = sorted(n for n, p in sc.priors.items() if not isinstance(p, Fixed))
    c1, c2, c3, c4 = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
    name = c1.selectbox("Truth: set parameter", names, key="mon_param") if names else None
    default = float(sc.priors[name].mean) if name else 0.0
    val = c2.number_input("to", value=default, format="%.4f", key=f"mon_value.{name}") if name else None
    until = int(c3.number_input("Periods observed", min_value=1, max_value=sc.horizon_periods,
                                value=min(8, sc.horizon_periods), key="mon_until"))
    oseed = int(c4.number_input("Truth seed", min_value=0, value=5, key="mon_oseed"))
    if st.button("Generate observations", key="mon_generate"):
        try:
            syn = synthesize(sc, truth={name: val} if name else {}, until=until, seed=oseed)
            ss.mon_obs = (syn.observations.to_csv(), f"synthetic: {name}={val:g}, seed {oseed}", syn.truth)
        except SibsimError as e:
            st.error(str(e))
elif source.startswith("Upload"):
    up = st.file_uploader("Observations CSV (period, starts, engaged, one column per outcome, payments, "
                          "capital_drawn)", type=["csv", "txt"], key="mon_upload")
    if up is not None:
        if up.size > common.MAX_UPLOAD_BYTES:
            st.error(f"{up.name} is {up.size:,} bytes; the limit is {common.MAX_UPLOAD_BYTES:,}.")
        else:
            text = up.getvalue().decode("utf-8", errors="replace")
            try:
                read_observations(text, sc, name=up.name)
                ss.mon_obs = (text, f"upload: {up.name}", None)
            except SibsimError as e:
                ss.pop("mon_obs", None)
                st.error(str(e))
else:
    store, why = common.store()
    if store is None:
        st.warning(why)
    else:
        from sibsim.store.observations import list_observations, load_observations

        sets = list_observations(store, scenario_hash=sc.content_hash)
        if not sets:
            st.info("No observation sets of this scenario are saved yet: generate or upload some, then save them.")
        else:
            labels = {f"#{s['id']} · {s['source']} · by {s['entered_by']} · {s['entered']:%Y-%m-%d %H:%M} · "
                      f"to period {s['until'] - 1}": s["id"] for s in sets}
            pick = st.selectbox("Saved observation set", list(labels), key="mon_saved")
            if st.button("Use this set", key="mon_use"):
                o = load_observations(store, labels[pick], sc)
                ss.mon_obs = (o.to_csv(), f"saved set #{labels[pick]}: {o.meta.get('source', '')}", None)

obs_state = ss.get("mon_obs")
if not obs_state:
    st.info("Choose observations above.")
    st.stop()
text, label, truth = obs_state
try:
    obs = read_observations(text, sc, name=label)
except SibsimError as e:  # the scenario changed since the observations were chosen
    st.error(str(e))
    st.stop()
st.subheader(f"Observations: {label}")
st.caption(f"Periods 0 to {obs.until - 1} ({len(obs.periods)} observed) · hash `{obs.content_hash[:16]}`")
st.dataframe(obs.to_frame(), width="stretch", height=min(35 * (len(obs.periods) + 1) + 3, 300))

with st.expander("Save these observations in the evidence base"):
    c1, c2 = st.columns(2)
    who = c1.text_input("Entered by", key="mon_who")
    src = c2.text_input("Source (report, data return, ...)", value=label, key="mon_src")
    if st.button("Save observations", key="mon_save"):
        store, why = common.store()
        if store is None:
            st.error(why)
        else:
            from sibsim.store.observations import save_observations

            try:
                oid = save_observations(store, obs, sc, entered_by=who, source=src)
                st.success(f"Saved as observation set {oid}.")
            except SibsimError as e:
                st.error(str(e))

c1, c2, c3 = st.columns([2, 2, 2], vertical_alignment="bottom")
trials = int(c1.number_input("Trials", min_value=100, max_value=100_000, step=1_000, value=5_000, key="mon_trials"))
seed = int(c2.number_input("Seed", min_value=0, value=1, key="mon_seed"))
if c3.button("Re-forecast", type="primary", key="mon_go", width="stretch"):
    with st.status(f"Updating the priors and re-forecasting {trials:,} trials…", expanded=False) as status:
        ss.mon_rf = reforecast_cached(sc.canonical_json(), text, trials, seed)
        status.update(label="Re-forecast done", state="complete")
rf = ss.get("mon_rf")
if rf is None or rf.observations.content_hash != obs.content_hash or rf.run.scenario.content_hash != sc.content_hash:
    st.info("Press **Re-forecast** to update the priors with these observations.")
    st.stop()

own = rf.run.finance_models[0]
ch = rf.changes()[own]
st.subheader("What the observations changed")
cols = st.columns(4)
probs = [k for k in ch if k.startswith("P(")]
triggers = [k for k in probs if k.endswith("_triggered)")] or [k for k in probs if "cap_reached" in k]
shown = ([k for k in probs if k == "P(investor_loss)"] + triggers)[:3] + ["E[remaining_public_cost]"]
for col, k in zip(cols, shown):
    v = ch[k]
    if k.startswith("P("):
        col.metric(k.replace("measurement.", "").replace("_", " "), f"{v['after']:.1%}", delta=f"{v['after'] - v['before']:+.1%} (was "
                   f"{v['before']:.1%})", delta_color="off", border=True)
    else:
        col.metric("Expected remaining public cost", money(v["after"], currency_symbol(rf.run)),
                   delta=f"was {money(v['before'], currency_symbol(rf.run))}", delta_color="off",
                   border=True)
st.dataframe(pd.DataFrame(ch).T.rename(columns={"before": "before (prior)", "after": "after (posterior)"}),
             width="stretch")

st.subheader("Forecast from today")
st.pyplot(mplots.forecast_fan(rf), width="stretch")

st.subheader("Prior and posterior")
d = rf.posterior.diagnostics
how = (f"importance sampling (k-hat {d['khat']:.2f}, ESS {d['ess']:,.0f} of {d['draws']:,})"
       if d["method"] == "importance" else
       f"tempered sequential Monte Carlo, {d['stages']} stages (importance sampling alone: k-hat "
       f"{d['importance_khat']:.2f}, ESS {d['importance_ess']:,.0f} of {d['draws']:,})")
st.caption(f"Posterior by {how}.")
st.dataframe(rf.posterior.to_frame().style.format("{:.4g}"), width="stretch")
st.pyplot(mplots.prior_posterior(rf, truth=truth), width="stretch")
