"""The scenario builder's forms, one per section of the scenario (docs/model.md; README "Scenario format").

Each form is a few ``app_pages.builder`` widgets; adding and removing
outcomes, parameters and correlations go through ``sibsim.spec.edit``.
"""

from __future__ import annotations

import copy

import streamlit as st

from app_pages import builder as B
from app_pages import common
from sibsim.dists import PRIOR_KINDS
from sibsim.spec import edit

ss = st.session_state
MODELS = ["sib", "pbr", "fee", "hybrid"]


def general() -> None:
    c1, c2, c3, c4 = st.columns(4)
    B.choice("Currency", ("currency",), ["GBP", "USD", "EUR", "AUD", "CAD"], "GBP", container=c1)
    B.choice("Period", ("period",), ["month", "quarter", "year"], "quarter", container=c2)
    B.text("Horizon (periods)", ("horizon_periods",), container=c3, help="periods simulated, at most 600")
    B.text("Discount rate (annual)", ("discount_rate_annual",), container=c4, placeholder="0.035",
           help="0.035 = 3.5% a year (HM Treasury Green Book)")


def participants() -> None:
    data = ss.scenario_data
    p = data.get("participants") or {}
    c1, c2, c3 = st.columns(3)
    if data.get("delivery") is None:
        kind = (p.get("starts") or {}).get("kind", "schedule")
        with c1:
            B.choice("Starts", ("participants", "starts", "kind"), ["schedule", "poisson"], "schedule",
                     help="schedule: the same starts every trial; poisson: random starts around a rate")
        with c2:
            if kind == "schedule":
                B.numbers("Cohort size: starts per period", ("participants", "starts", "per_period"),
                          help="e.g. 100, 100, 100, 100: 400 people over the first four periods")
            else:
                B.numbers("Expected starts per period", ("participants", "starts", "rate_per_period"))
                B.text("Volume (multiplier or parameter)", ("participants", "starts", "volume"), placeholder="1")
    else:
        c1.caption("Starts come from the delivery section (referrals and caseworkers) below.")
    with c3:
        B.text("Contract maximum (participants)", ("participants", "max_participants"), placeholder="no maximum")
    c1, c2 = st.columns(2)
    B.text("Engagement (probability, or a parameter)", ("participants", "engagement"), placeholder="1",
           container=c1)
    B.choice("Outcomes paid on", ("participants", "payment_on"), ["all", "engaged"], "all", container=c2,
             help="all: every referred starter (intention to treat); engaged: engaged participants only")
    B.exact("participants")


def _rename(i: int, key: str) -> None:
    if key not in ss:
        return
    old = ss.scenario_data["outcomes"][i].get("name")
    new = (ss[key] or "").strip()
    B.restructure(edit.rename_outcome(ss.scenario_data, old, new) if new else ss.scenario_data)


def _remove_outcome(i: int) -> None:
    B.restructure(edit.remove_outcome(ss.scenario_data, i))


def _add_outcome() -> None:
    data = copy.deepcopy(ss.scenario_data)
    outs = data.setdefault("outcomes", [])
    outs.append(edit.new_outcome([o.get("name") for o in outs]))
    B.restructure(data)


def outcome(i: int, o: dict, names: list[str]) -> None:
    path = ("outcomes", i)
    with st.container(border=True):
        c1, c2, c3, c4 = st.columns([3, 2, 2, 1], vertical_alignment="bottom")
        key = common.ed(f"outcomes.{i}.name")
        c1.text_input("Outcome name", value=o.get("name", ""), key=key, on_change=_rename, args=(i, key),
                      help="letters, digits and _; renaming also renames its price")
        B.choice("Kind", (*path, "kind"), ["binary", "count"], "binary", container=c2,
                 help="binary: achieved or not; count: events per participant, priced per event")
        B.choice("Direction", (*path, "direction"), ["increase", "reduce"], "increase", container=c3)
        c4.button("Remove", key=common.ed(f"outcomes.{i}.remove"), on_click=_remove_outcome, args=(i,))
        with c1:
            common.show_problems(f"outcomes.{i}.name")
        c1, c2, c3 = st.columns(3)
        B.text("Baseline (without the service)", (*path, "baseline"), container=c1,
               help="probability (mean events for a count outcome), or a parameter name")
        B.choice("Effect type", (*path, "effect", "type"), ["absolute", "relative"], "absolute", container=c2)
        B.text("Effect size", (*path, "effect", "size"), container=c3, placeholder="0",
               help="absolute: a difference of probabilities; relative: a share of the baseline; or a parameter")
        lag = o.get("lag") or {}
        c1, c2, c3 = st.columns(3)
        B.choice("Lag", (*path, "lag", "dist"), ["fixed", "uniform", "discrete"], "fixed", container=c1,
                 help="periods from start (or from the prerequisite) to the outcome")
        if lag.get("dist", "fixed") == "fixed":
            B.text("Lag (periods)", (*path, "lag", "periods"), container=c2)
        elif lag.get("dist") == "uniform":
            B.text("Lag from (periods)", (*path, "lag", "low"), container=c2)
            B.text("Lag to (periods)", (*path, "lag", "high"), container=c3)
        else:
            B.numbers("Lag probabilities (1, 2, ... periods)", (*path, "lag", "probabilities"), container=c2)
        with c3 if lag.get("dist", "fixed") != "uniform" else st.container():
            earlier = [n for n in names[:i] if n]
            B.choice("Requires", (*path, "requires"), earlier, None, blank="(nothing)",
                     help="a prerequisite outcome, listed before this one")
        B.exact(f"outcomes.{i}.lag")
        B.exact(f"outcomes.{i}")
        B.exact(f"outcomes.{i}.effect")


def outcomes() -> None:
    outs = ss.scenario_data.get("outcomes") or []
    names = [o.get("name") for o in outs]
    for i, o in enumerate(outs):
        outcome(i, o, names)
    B.exact("outcomes")
    st.button("Add an outcome", key=common.ed("outcomes.add"), on_click=_add_outcome, icon=":material/add:")


def rate_card_terms() -> None:
    c1, c2 = st.columns(2)
    B.text("Contract cap on total payments", ("rate_card", "cap_total"), help="blank: no cap", container=c1)
    B.text("Cap per participant", ("rate_card", "cap_per_participant"), help="blank: no cap", container=c2)
    c1, c2 = st.columns(2)
    B.text("Co-payer share (0 to 1)", ("rate_card", "co_payer_share"), placeholder="0", container=c1,
           help="share of each payment paid by a central outcomes fund (e.g. the Life Chances Fund)")
    B.text("Payment lag (periods)", ("rate_card", "payment_lag_periods"), placeholder="0", container=c2)


def costs() -> None:
    c1, c2, c3 = st.columns(3)
    B.text("Fixed cost per period", ("costs", "fixed_per_period"), placeholder="0", container=c1)
    B.numbers("Fixed cost from, to (periods)", ("costs", "fixed_periods"), placeholder="every period", container=c2)
    B.text("Set-up cost", ("costs", "setup"), placeholder="0", container=c3)
    c1, c2, c3 = st.columns(3)
    B.text("Cost per start", ("costs", "per_start"), placeholder="0", container=c1)
    B.text("Cost per engaged participant", ("costs", "per_engaged"), placeholder="0", container=c2)
    B.text("Cost multiplier (overrun)", ("costs", "multiplier"), placeholder="1", container=c3,
           help="a number or a parameter: per-trial multiplier on participant costs")
    c1, c2, _ = st.columns(3)
    B.text("Cost per engaged participant per period", ("costs", "per_engaged_per_period"), placeholder="0",
           container=c1)
    B.text("Periods served", ("costs", "service_periods"), placeholder="1", container=c2)
    B.exact("costs")


def finance() -> None:
    B.choice("Finance model", ("finance", "model"), MODELS, "sib",
             help="sib: investors fund the provider; pbr: the provider bears the risk; fee: fee for service; "
                  "hybrid: part fee, part outcomes")
    sib, prov, other = st.tabs(["SIB terms", "Provider", "Fee and hybrid"])
    with sib:
        c1, c2, c3 = st.columns(3)
        B.text("Capital commitment", ("finance", "sib", "capital_commitment"), help="blank: unlimited", container=c1)
        B.choice("Drawdown", ("finance", "sib", "drawdown"), ["as_needed", "upfront", "schedule"], "as_needed",
                 container=c2)
        B.text("Return cap (annual, 0.08 = 8%)", ("finance", "sib", "return_cap_annual"), help="blank: no cap",
               container=c3)
        c1, c2, c3 = st.columns(3)
        B.text("Guarantee share of principal loss (0 to 1)", ("finance", "sib", "guarantee_share"),
               placeholder="0", container=c1)
        B.text("Management fee per period", ("finance", "sib", "management_fee_per_period"), placeholder="0",
               container=c2)
        B.choice("Excess over the cap goes to", ("finance", "sib", "excess_to"), ["commissioner", "provider"],
                 "commissioner", container=c3)
        B.exact("finance.sib")
    with prov:
        c1, c2 = st.columns(2)
        B.text("Reserves", ("finance", "provider", "reserves"), placeholder="3 months of cost", container=c1)
        B.text("Overdraft limit", ("finance", "provider", "overdraft_limit"), placeholder="3 months of cost",
               container=c2)
        c1, c2 = st.columns(2)
        B.text("Overdraft rate (annual)", ("finance", "provider", "overdraft_rate_annual"), placeholder="0.08",
               container=c1)
        B.text("Annual turnover", ("finance", "provider", "annual_turnover"), container=c2)
        B.exact("finance.provider")
    with other:
        c1, c2 = st.columns(2)
        B.text("Fee margin (0.1 = cost + 10%)", ("finance", "fee", "margin"), placeholder="0", container=c1)
        B.text("Hybrid fee share (0 to 1)", ("finance", "hybrid", "fee_share"), placeholder="0.5", container=c2)
    B.exact("finance")


def appraisal() -> None:
    names = [o.get("name") for o in ss.scenario_data.get("outcomes") or [] if o.get("name")]
    cols = st.columns(3)
    for i, n in enumerate(names):
        B.text(f"Value of one more {n}", ("appraisal", "value_per_outcome", n), placeholder="0",
               container=cols[i % 3])
    c1, c2, c3 = st.columns(3)
    B.text("Optimism bias on fees", ("appraisal", "optimism_bias"), placeholder="0", container=c1)
    B.text("Effect kept by a fee contract (0 to 1)", ("appraisal", "fee_effect_share"), placeholder="1",
           container=c2)
    B.text("Appraisal discount rate", ("appraisal", "discount_rate_annual"), placeholder="the scenario's",
           container=c3)
    B.exact("appraisal")


# ---------------------------------------------------------------- parameters and correlations


def _add_parameter(name_key: str, kind_key: str) -> None:
    name = (ss.get(name_key) or "").strip()
    if not edit.NAME.match(name) or name in (ss.scenario_data.get("parameters") or {}):
        ss.add_param_error = (f"'{name}' cannot be a new parameter: use letters, digits and _ (not first), "
                              "and a name not already used")
        return
    ss.add_param_error = None
    data = copy.deepcopy(ss.scenario_data)
    data.setdefault("parameters", {})[name] = edit.default_prior(ss[kind_key])
    B.restructure(data)


def remove_parameter(name: str) -> None:
    B.restructure(edit.remove_parameter(ss.scenario_data, name))


def add_parameter() -> None:
    c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
    name_key, kind_key = common.ed("newparam.name"), common.ed("newparam.kind")
    c1.text_input("New parameter name", key=name_key, placeholder="e.g. job_entry_uplift")
    c2.selectbox("Prior", PRIOR_KINDS, index=PRIOR_KINDS.index("beta"), key=kind_key)
    c3.button("Add parameter", key=common.ed("newparam.add"), on_click=_add_parameter, args=(name_key, kind_key))
    if ss.get("add_param_error"):
        st.error(ss.add_param_error)


def _add_correlation() -> None:
    params = list(ss.scenario_data.get("parameters") or {})
    data = copy.deepcopy(ss.scenario_data)
    data["correlations"] = [*data.get("correlations", []), {"a": params[0], "b": params[-1], "rho": 0.0}]
    B.restructure(data)


def _remove_correlation(i: int) -> None:
    data = copy.deepcopy(ss.scenario_data)
    data["correlations"].pop(i)
    B.restructure(data)


def correlations() -> None:
    params = list(ss.scenario_data.get("parameters") or {})
    for i, _ in enumerate(ss.scenario_data.get("correlations") or []):
        c1, c2, c3, c4 = st.columns([3, 3, 2, 1], vertical_alignment="bottom")
        B.choice("Parameter", ("correlations", i, "a"), params, container=c1)
        B.choice("with", ("correlations", i, "b"), params, container=c2)
        B.text("rank correlation (-1 to 1)", ("correlations", i, "rho"), container=c3)
        c4.button("Remove", key=common.ed(f"correlations.{i}.remove"), on_click=_remove_correlation, args=(i,))
        B.exact(f"correlations.{i}")
    B.exact("correlations")
    st.button("Add a correlation", key=common.ed("correlations.add"), on_click=_add_correlation,
              disabled=len(params) < 2, icon=":material/add:", help=None if len(params) >= 2 else
              "needs two parameters")
