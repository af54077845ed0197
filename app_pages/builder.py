"""The scenario builder's widgets: one widget per scenario field, its problems shown beside it.

Every widget is bound to a path in the edited scenario dict (``ss.scenario_data``):
its callback writes the parsed value there and revalidates (``common.update``),
and ``common.show_problems(path)`` shows what spec says about that field just
below it. Structural edits (adding or removing an outcome, a parameter or a
correlation, renaming an outcome) renew every editor widget (a new scenario
version, see ``common.ed``), so that no widget keeps showing the value of the
item that used to be at its place. No scenario logic here: what is valid is
spec's, the new items and renames are ``sibsim.spec.edit``'s.
"""

from __future__ import annotations

import copy
import re

import streamlit as st

from app_pages import common

ss = st.session_state
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


def parse_list(text: str):
    """"100, 100, 50" -> [100, 100, 50] (whole numbers as ints); blank -> None; anything else stays text."""
    text = (text or "").strip().strip("[]")
    if not text:
        return None
    parts = [p.strip().replace("_", "") for p in re.split(r"[,;\s]+", text) if p.strip()]
    try:
        nums = [float(p) for p in parts]
    except ValueError:
        return text
    return [int(x) if x.is_integer() else x for x in nums]


def list_text(v) -> str:
    return ", ".join(common.value_text(x) for x in v) if isinstance(v, (list, tuple)) else common.value_text(v)


# ---------------------------------------------------------------- the edited dict


def get(data, path: tuple):
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and p < len(data):
            data = data[p]
        else:
            return None
    return data


def put(data, path: tuple, value) -> None:
    """Set ``path`` to ``value`` (None: remove it), creating the mappings on the way."""
    for p in path[:-1]:
        data = data[p] if isinstance(data, list) else data.setdefault(p, {})
    last = path[-1]
    if isinstance(data, list):
        data[last] = value
    elif value is None:
        data.pop(last, None)
    else:
        data[last] = value


def dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path)


def edit(path: tuple, value) -> None:
    data = copy.deepcopy(ss.scenario_data)
    put(data, path, value)
    common.update(data)


def restructure(data: dict) -> None:
    """A structural edit: the new dict, and fresh editor widgets (see the module docstring)."""
    old = ss.get("scenario_version", 0)
    ss.scenario_version = old + 1
    text = ss.get("scenario_text")
    if text and text[0] == old:  # still the scenario read from that text: its download keeps the text's comments
        ss.scenario_text = (old + 1, text[1])
    common.update(data)


def _from_widget(path: tuple, parse, key: str) -> None:
    if key not in ss:  # a late event from the editor of a scenario since replaced
        return
    edit(path, parse(ss[key]))


# ---------------------------------------------------------------- widgets


def text(label: str, path: tuple, *, parse=parse_value, help: str | None = None, placeholder: str | None = None,
         container=None) -> None:
    """A text input bound to one field (a number, a parameter name or a word), its problems below it."""
    key = common.ed(dotted(path))
    v = get(ss.scenario_data, path)
    container = container or st
    container.text_input(label, value=list_text(v) if isinstance(v, list) else common.value_text(v), key=key,
                         help=help, placeholder=placeholder, on_change=_from_widget, args=(path, parse, key))
    _beside(container, dotted(path))


def _beside(container, field: str) -> None:
    if container is st:
        common.show_problems(field)
    else:
        with container:
            common.show_problems(field)


def numbers(label: str, path: tuple, **kw) -> None:
    """A list of numbers typed with commas ("100, 100, 50")."""
    text(label, path, parse=parse_list, **kw)


def choice(label: str, path: tuple, options: list, default=None, *, blank: str | None = None, help=None,
           container=None) -> None:
    """A select box bound to one field; ``blank``: the label of "not given" (the field is removed)."""
    key = common.ed(dotted(path))
    v = get(ss.scenario_data, path)
    v = default if v is None else v
    opts = ([None] if blank else []) + list(options)
    if v not in opts:
        opts.append(v)
    container = container or st
    container.selectbox(label, opts, index=opts.index(v), key=key, help=help,
                        format_func=lambda o: blank if o is None else str(o),
                        on_change=_from_widget, args=(path, lambda x: x, key))
    _beside(container, dotted(path))


def leaves(path: tuple, value, depth: int = 0) -> None:
    """A text field for every number, word and list of numbers under ``path`` (sections edited as they are)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, dict):
                st.markdown(f"{'&nbsp;' * 4 * depth}*{k}*")
                leaves((*path, k), v, depth + 1)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for i, item in enumerate(v):
                    st.markdown(f"{'&nbsp;' * 4 * depth}*{k} {i + 1}*")
                    leaves((*path, k, i), item, depth + 1)
            elif isinstance(v, list):
                numbers(k, (*path, k))
            elif isinstance(v, bool):
                choice(k, (*path, k), [True, False])
            else:
                text(k, (*path, k))
    exact(dotted(path))


def exact(field: str) -> None:
    """Problems of ``field`` itself (a section), not of the fields inside it (shown beside those)."""
    for f, msg in common.problems_at(field):
        if f == field:
            st.error(f"`{f}`: {msg}", icon=":material/error:")
