"""Scenario page: start from a shipped or uploaded scenario, a template or an INDIGO rate card, and edit every section.

Every edit rewrites the scenario dict and validates it with
``sibsim.spec.validate`` (through a widget callback; the rate-card table's
edits are read when it is drawn, then the page reruns); the problems spec
reports are shown beside the field they name, and the other pages use the
scenario once it is valid. No scenario logic lives here: the prior kinds and
their fields are read from ``sibsim.dists``, every check is spec's, new
scenarios and structural edits are ``sibsim.spec.edit``'s; the forms of the
sections are in ``app_pages.builder_sections`` (issue 14). The YAML download
keeps the comments and order of the text the scenario was loaded from.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import typing

import pandas as pd
import streamlit as st
import yaml
from pydantic import TypeAdapter, ValidationError

from app_pages import builder as B
from app_pages import builder_sections as sections
from app_pages import common
from sibsim import spec
from sibsim.spec import edit
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


parse_value = B.parse_value  # kept here for callers of the page module


# ---------------------------------------------------------------- callbacks


def _set_text(text: str | None) -> None:
    """The YAML text the scenario now shown was read from (None: built here), for the download."""
    ss.scenario_text = (ss.scenario_version, text)


def original_text() -> str | None:
    """The text of the current scenario's YAML as its author wrote it, if it came from one."""
    version, text = ss.get("scenario_text", (None, None))
    if version == ss.get("scenario_version") and text is not None:
        return text
    origin = ss.get("scenario_origin")
    if origin and origin[0] == "scenario" and origin[1] in common.shipped():
        return common.shipped()[origin[1]].read_text(encoding="utf-8")
    return None


def _load_shipped() -> None:
    name = ss["src_file"]
    if name is None:
        return
    common.set_scenario(spec.load(common.shipped()[name]), source=f"scenarios/{name}.yaml", origin=("scenario", name))
    _set_text(common.shipped()[name].read_text(encoding="utf-8"))


def _new_from_template() -> None:
    name = (ss.get("new_name") or "").strip() or "New scenario"
    common.set_scenario(spec.validate(edit.template(name)), source="the template")
    _set_text(None)


def _new_from_indigo() -> None:
    pid = ss.get("indigo_project")
    if pid is None:
        return
    common.set_scenario(spec.validate(edit.from_indigo(pid, _indigo())), source=f"INDIGO {pid} rate card")
    _set_text(None)


@st.cache_resource(show_spinner=False)
def _indigo():
    from sibsim import indigo

    return indigo.load()


@st.cache_data(show_spinner=False)
def _rate_cards():
    return edit.indigo_rate_cards(_indigo())


def _reload() -> None:
    origin = ss.get("scenario_origin")
    if origin and origin[0] == "scenario":
        common.set_scenario(spec.load(common.shipped()[origin[1]]), source=f"scenarios/{origin[1]}.yaml",
                            origin=origin)


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
        _set_text(up.getvalue().decode("utf-8"))
        ss.upload_error = None
    except ScenarioError as e:
        ss.upload_error = (up.name, e.problems)


def _apply_yaml(key: str) -> None:
    try:
        common.set_scenario(common.read_scenario_file("edited YAML", ss[key].encode("utf-8")), source="edited YAML")
        _set_text(ss[key])
        ss.yaml_error = None
    except ScenarioError as e:
        ss.yaml_error = e.problems


# ---------------------------------------------------------------- widgets


def text_field(label: str, path: tuple, *, parse=parse_value, help: str | None = None) -> None:
    """A text input bound to one scenario field (number or parameter name), with its problems below."""
    B.text(label, path, parse=parse, help=help)


def param_editor(name: str, entry) -> None:
    entry = {"dist": "fixed", "value": entry} if isinstance(entry, (int, float)) else dict(entry)
    kind = entry.get("dist") if entry.get("dist") in FIELDS else "fixed"
    with st.container(border=True):
        left, right = st.columns([3, 2], vertical_alignment="center")
        with left:
            t, r = st.columns([4, 1], vertical_alignment="center")
            t.markdown(f"**{name}**")
            r.button("Remove", key=common.ed(f"p.{name}.remove"), on_click=sections.remove_parameter, args=(name,),
                     help="remove this parameter (its uses are then reported)")
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
st.caption("Start from a shipped scenario, your own YAML, a template or an INDIGO project's rate card, then edit "
           "every section below. The Run, Compare and Evidence pages use the scenario shown here.")

START = ["A shipped scenario", "An uploaded YAML file", "A new scenario", "An INDIGO rate card"]
src = st.radio("Start from", START, horizontal=True, key="src_kind")
if src == START[0]:
    names = list(common.shipped())
    origin = ss.get("scenario_origin")
    current = origin[1] if origin and origin[0] == "scenario" and not ss.get("scenario_edited") else None
    if ss.get("src_file") != current:  # the box says which file is loaded, and nothing once it is edited
        ss["src_file"] = current
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.selectbox("Shipped scenario", names, index=names.index(current) if current in names else None, key="src_file",
                 on_change=_load_shipped, placeholder="edited: choose a shipped scenario to start again")
    c2.button("Reload (discard edits)", on_click=_reload, disabled=not (origin and origin[0] == "scenario"))
elif src == START[1]:
    st.file_uploader("Scenario YAML (UTF-8, at most 1 MB)", type=["yaml", "yml"], key="upload", on_change=_upload)
    if ss.get("upload_error"):
        fname, probs = ss.upload_error
        st.error(f"**{fname}** was not loaded: it is not a valid scenario.\n\n{common.problem_lines(probs)}")
elif src == START[2]:
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.text_input("New scenario's name", value="New scenario", key="new_name")
    c2.button("Create", key="new_create", on_click=_new_from_template, type="primary",
              help="one outcome, one price and 400 starts over a year: replace every number (all are assumptions)")
else:
    cards = _rate_cards()
    labels = {r.project_id: f"{r.project_id} · {str(r.name)[:70]} ({r.currency}, {r.prices} prices)"
              for r in cards.itertuples()}
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.selectbox("INDIGO project (GO Lab impact bond dataset)", list(labels), format_func=labels.get,
                 key="indigo_project", index=None, placeholder="choose a project with a published rate card")
    c2.button("Create from its rate card", key="indigo_create", on_click=_new_from_indigo,
              disabled=ss.get("indigo_project") is None)
    st.caption("Outcomes and prices are the project's; baselines, effects and costs start as placeholders.")

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
sections.general()

extra = [k for k in ("measurement", "delivery", "termination") if data.get(k) is not None]
tabs = st.tabs(["Participants", "Outcomes", "Rate card", "Costs", "Finance", "Appraisal", "Parameters",
                "Correlations", *[k.capitalize() for k in extra]])
with tabs[0]:
    sections.participants()
with tabs[1]:
    sections.outcomes()
with tabs[2]:
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
    sections.rate_card_terms()
with tabs[3]:
    sections.costs()
with tabs[4]:
    sections.finance()
with tabs[5]:
    st.caption("What one additional outcome is worth to the public sector (value for money; blank: 0).")
    sections.appraisal()
with tabs[6]:
    st.caption("Each uncertain input has a prior; the picture is drawn from its quantile function on an even grid. "
               "Use a parameter by typing its name in a field (a price, a baseline, an effect...).")
    params = data.get("parameters") or {}
    cols = st.columns(2)
    for i, (name, entry) in enumerate(params.items()):
        with cols[i % 2]:
            param_editor(name, entry)
    if not params:
        st.info("This scenario has no uncertain parameters yet.")
    sections.add_parameter()
with tabs[7]:
    st.caption("Rank correlations between parameters (drawn with a Gaussian copula).")
    sections.correlations()
for tab, k in zip(tabs[8:], extra):
    with tab:
        B.leaves((k,), data[k])

st.subheader("YAML")
# a scenario with problems is still downloadable, as written, to fix elsewhere; a scenario read from YAML keeps
# that text's comments and order, a new one writes only what differs from the defaults
try:
    text = edit.roundtrip_yaml(data, original_text())
except Exception:  # noqa: BLE001 - whatever ruamel makes of an odd text, the scenario can still be downloaded
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
slug = "".join(ch if ch.isalnum() else "_" for ch in str(data.get("name", "scenario")).lower()).strip("_")
st.download_button("Download YAML", text, file_name=f"{slug or 'scenario'}.yaml", mime="application/x-yaml",
                   on_click="ignore", help=None if sc is not None else "the scenario still has problems")
with st.expander("Edit the whole scenario as YAML"):
    key = "yaml." + hashlib.sha256(text.encode()).hexdigest()[:12]
    with st.form("yaml_form"):
        st.text_area("Scenario YAML", value=text, height=360, key=key)
        st.form_submit_button("Apply YAML", on_click=_apply_yaml, args=(key,))
    if ss.get("yaml_error"):
        st.error(f"The YAML was not applied.\n\n{common.problem_lines(ss.yaml_error)}")
