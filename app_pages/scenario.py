"""Scenario page: load a shipped or uploaded scenario, edit priors, rate card and finance terms.

Every edit rewrites the scenario dict and validates it with
``sibsim.spec.validate`` (through a widget callback; the rate-card table's
edits are read when it is drawn, then the page reruns); the problems spec
reports are shown beside the field they name, and the other pages use the
scenario once it is valid. No scenario logic lives here: the prior kinds and
their fields are read from ``sibsim.dists``, every check is spec's.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
import typing

import pandas as pd
import streamlit as st
import yaml
from pydantic import TypeAdapter, ValidationError

from app_pages import common
from sibsim import spec
from sibsim.dists import PRIOR_KINDS, Prior
from sibsim.errors import ScenarioError
from sibsim.plots import runs as plots

ss = st.session_state

# dist -> [(field, required, is_list)], read from the prior classes themselves
FIELDS = {
    cls.model_fields["dist"].default: [
        (f.alias or n, f.is_required(), "list" in str(f.annotation))
        for n, f in cls.model_fields.items() if n != "dist"
    ]
    for cls in typing.get_args(typing.get_args(Prior)[0])
}
PRIOR = TypeAdapter(Prior)


_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def parse_value(text: str):
    """Editor text -> None (blank), a float, or the text itself (a parameter name, or a mistake spec reports).

    Commas are read only as thousands separators ("1,500,000"); "1,5" is not a
    number (it is not 15), so it stays text and spec's message is shown beside the field.
    """
    text = (text or "").strip()
    if not text:
        return None
    t = text.replace("_", "")
    if "," in t:
        if not _GROUPED.match(t):
            return text
        t = t.replace(",", "")
    try:
        return float(t)
    except ValueError:
        return text


# ---------------------------------------------------------------- callbacks


def _load_shipped() -> None:
    name = ss["src_file"]
    if name is None:
        return
    common.set_scenario(spec.load(common.shipped()[name]), source=f"scenarios/{name}.yaml", origin=("scenario", name))


def _reload() -> None:
    origin = ss.get("scenario_origin")
    if origin and origin[0] == "scenario":
        common.set_scenario(spec.load(common.shipped()[origin[1]]), source=f"scenarios/{origin[1]}.yaml",
                            origin=origin)


def _set(data: dict, path: tuple, value) -> None:
    for p in path[:-1]:
        data = data.setdefault(p, {})
    if value is None:
        data.pop(path[-1], None)
    else:
        data[path[-1]] = value


def _get(data: dict, path: tuple):
    for p in path:
        if not isinstance(data, dict) or p not in data:
            return None
        data = data[p]
    return data


def _edit_field(path: tuple, parse, key: str) -> None:
    if key not in ss:  # a late event from the editor of a scenario since replaced
        return
    data = copy.deepcopy(ss.scenario_data)
    _set(data, path, parse(ss[key]))
    common.update(data)


def _entry(name: str) -> dict:
    kind = ss[common.ed(f"p.{name}.dist")]
    entry = {"dist": kind}
    for field, _, is_list in FIELDS[kind]:
        v = ss.get(common.ed(f"p.{name}.{field}"))
        if is_list and isinstance(v, str):
            parts = [parse_value(x) for x in v.split(",") if x.strip()]
            v = parts if all(isinstance(x, float) for x in parts) else v
        if v is not None and v != "":
            entry[field] = v
    return entry


def _edit_param(name: str) -> None:
    if common.ed(f"p.{name}.dist") not in ss or name not in ss.scenario_data.get("parameters", {}):
        return
    data = copy.deepcopy(ss.scenario_data)
    data["parameters"][name] = _entry(name)
    common.update(data)


def rate_card_prices(table: pd.DataFrame, names: list[str], old: dict) -> dict:
    """The rate card's prices from the edited table (blank price: the outcome is not paid for)."""
    prices = {k: v for k, v in old.items() if k not in names}  # unknown outcomes stay, for spec to report
    for outcome, text in zip(names, table["price"]):
        v = parse_value(text)
        if v is not None:
            prices[outcome] = v
    return prices


def _upload() -> None:
    up = ss.get("upload")
    if up is None:
        return
    try:
        common.set_scenario(common.read_scenario_file(up.name, up.getvalue()), source=f"upload: {up.name}")
        ss.upload_error = None
    except ScenarioError as e:
        ss.upload_error = (up.name, e.problems)


def _apply_yaml(key: str) -> None:
    try:
        common.set_scenario(common.read_scenario_file("edited YAML", ss[key].encode("utf-8")), source="edited YAML")
        ss.yaml_error = None
    except ScenarioError as e:
        ss.yaml_error = e.problems


# ---------------------------------------------------------------- widgets


def text_field(label: str, path: tuple, *, parse=parse_value, help: str | None = None) -> None:
    """A text input bound to one scenario field (number or parameter name), with its problems below."""
    key = common.ed(".".join(path))
    st.text_input(label, value=common.value_text(_get(ss.scenario_data, path)), key=key,
                  help=help, on_change=_edit_field, args=(path, parse, key))
    common.show_problems(".".join(path))


def param_editor(name: str, entry) -> None:
    entry = {"dist": "fixed", "value": entry} if isinstance(entry, (int, float)) else dict(entry)
    kind = entry.get("dist") if entry.get("dist") in FIELDS else "fixed"
    with st.container(border=True):
        left, right = st.columns([3, 2], vertical_alignment="center")
        with left:
            st.markdown(f"**{name}**")
            kind = st.selectbox("Distribution", PRIOR_KINDS, index=PRIOR_KINDS.index(kind),
                                key=common.ed(f"p.{name}.dist"), on_change=_edit_param, args=(name,))
            fields = FIELDS[kind]
            for col, (field, required, is_list) in zip(st.columns(len(fields)), fields):
                hint = None if required else "opt."
                key = common.ed(f"p.{name}.{field}")
                with col:
                    v = entry.get(field)
                    if is_list:
                        text = ", ".join(common.value_text(x) for x in v) if isinstance(v, list) else (v or "")
                        st.text_input(field, value=text, placeholder=hint, key=key, on_change=_edit_param,
                                      args=(name,))
                    else:
                        finite = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        st.number_input(field, value=float(v) if finite else None, format="%g",
                                        placeholder=hint, key=key, on_change=_edit_param, args=(name,))
        with right:
            try:
                prior = PRIOR.validate_python(entry)
            except (ValidationError, RecursionError):
                st.caption("no picture until the prior is valid")
            else:
                key = ("prior", json.dumps(entry, sort_keys=True, default=str))
                try:
                    st.image(common.figure_png(key, lambda: plots.prior_density(prior)), width="stretch")
                except (ArithmeticError, ValueError) as err:  # a valid prior too extreme to draw
                    st.caption(f"no picture: {err}")
        common.show_problems(f"parameters.{name}")


# ---------------------------------------------------------------- page

st.title("Scenario")
st.caption("Start from a shipped scenario or your own YAML, then edit its priors, rate card and finance terms. "
           "The Run, Compare and Evidence pages use the scenario shown here.")

src = st.radio("Start from", ["A shipped scenario", "An uploaded YAML file"], horizontal=True, key="src_kind")
if src == "A shipped scenario":
    names = list(common.shipped())
    origin = ss.get("scenario_origin")
    current = origin[1] if origin and origin[0] == "scenario" and not ss.get("scenario_edited") else None
    if ss.get("src_file") != current:  # the box says which file is loaded, and nothing once it is edited
        ss["src_file"] = current
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.selectbox("Shipped scenario", names, index=names.index(current) if current in names else None, key="src_file",
                 on_change=_load_shipped, placeholder="edited: choose a shipped scenario to start again")
    c2.button("Reload (discard edits)", on_click=_reload, disabled=not (origin and origin[0] == "scenario"))
else:
    st.file_uploader("Scenario YAML (UTF-8, at most 1 MB)", type=["yaml", "yml"], key="upload", on_change=_upload)
    if ss.get("upload_error"):
        fname, probs = ss.upload_error
        st.error(f"**{fname}** was not loaded: it is not a valid scenario.\n\n{common.problem_lines(probs)}")

data = ss.scenario_data
sc = ss.scenario
if ss.problems:
    n = len(ss.problems)
    st.error(f"**This scenario has {n} problem{'s' * (n != 1)}**; the other pages use it once "
             f"{'they are' if n > 1 else 'it is'} fixed.\n\n{common.problem_lines(ss.problems)}")
else:
    st.success(f"**{sc.name}** is valid · hash `{sc.content_hash}` · from {common.source_label()}")

text_field("Scenario name", ("name",), parse=lambda s: s.strip())
if data.get("description"):
    st.caption(str(data["description"]))

st.subheader("Parameters")
st.caption("Each uncertain input has a prior; the picture is drawn from its quantile function on an even grid.")
params = data.get("parameters") or {}
cols = st.columns(2)
for i, (name, entry) in enumerate(params.items()):
    with cols[i % 2]:
        param_editor(name, entry)
if not params:
    st.info("This scenario has no uncertain parameters.")

left, right = st.columns(2)
with left:
    st.subheader("Rate card")
    names = [o.get("name", "?") for o in data.get("outcomes", [])]
    prices = (data.get("rate_card") or {}).get("prices", {})
    table = pd.DataFrame({"outcome": names, "price": [common.value_text(prices.get(o)) for o in names]})
    edited = st.data_editor(table, key=common.ed("rate_card"), num_rows="fixed", disabled=["outcome"], hide_index=True,
                            column_config={"price": st.column_config.TextColumn(
                                f"price ({data.get('currency', '')}, or a parameter name)")}, width="stretch")
    # the table's edits are read here rather than in a callback, so that tests can seed them
    new_prices = rate_card_prices(edited, names, prices)
    if new_prices != prices:
        changed = copy.deepcopy(data)
        changed.setdefault("rate_card", {})["prices"] = new_prices
        common.update(changed)
        st.rerun()
    common.show_problems("rate_card.prices")
    text_field("Contract cap on total payments", ("rate_card", "cap_total"), help="blank: no cap")
    text_field("Cap per participant", ("rate_card", "cap_per_participant"), help="blank: no cap")
with right:
    st.subheader("Finance terms (SIB)")
    text_field("Capital commitment", ("finance", "sib", "capital_commitment"), help="blank: unlimited")
    text_field("Return cap (annual, 0.08 = 8%)", ("finance", "sib", "return_cap_annual"), help="blank: no cap")
    text_field("Guarantee share of principal loss (0 to 1)", ("finance", "sib", "guarantee_share"))
    text_field("Management fee per period", ("finance", "sib", "management_fee_per_period"))

st.subheader("YAML")
# a scenario with problems is still downloadable, as written, to fix elsewhere
text = spec.dumps(sc) if sc is not None else yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
slug = "".join(ch if ch.isalnum() else "_" for ch in str(data.get("name", "scenario")).lower()).strip("_")
st.download_button("Download YAML", text, file_name=f"{slug or 'scenario'}.yaml", mime="application/x-yaml",
                   on_click="ignore", help=None if sc is not None else "the scenario still has problems")
with st.expander("Edit the whole scenario as YAML (outcomes, costs, participants, ...)"):
    key = "yaml." + hashlib.sha256(text.encode()).hexdigest()[:12]
    with st.form("yaml_form"):
        st.text_area("Scenario YAML", value=text, height=360, key=key)
        st.form_submit_button("Apply YAML", on_click=_apply_yaml, args=(key,))
    if ss.get("yaml_error"):
        st.error(f"The YAML was not applied.\n\n{common.problem_lines(ss.yaml_error)}")
