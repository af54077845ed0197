"""The app's state in its address: a link reopens the same scenario and run.

Query string: the scenario as ``scenario=<shipped file stem>``, ``evidence=<saved run id>`` or, once edited,
``spec=<the scenario's canonical JSON, zlib-compressed, base64url>``; ``trials``, ``seed``, ``also`` (other
finance models, comma separated) and ``run=1`` when a run of that scenario is shown. A run is never stored in
the link: it is regenerated from the scenario, trials and seed, which fix every number.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib

import streamlit as st

from app_pages import common
from sibsim import spec
from sibsim.errors import ScenarioError, SibsimError

ss = st.session_state
MAX_SPEC_CHARS = 60_000  # a link longer than browsers reliably keep is refused, not truncated


def encode_spec(canonical_json: str) -> str:
    return base64.urlsafe_b64encode(zlib.compress(canonical_json.encode("utf-8"), 9)).decode("ascii").rstrip("=")


def decode_spec(text: str) -> str:
    """The canonical JSON a ``spec=`` value carries; ValueError saying what is wrong otherwise."""
    if len(text) > MAX_SPEC_CHARS:
        raise ValueError(f"it is {len(text):,} characters; the limit is {MAX_SPEC_CHARS:,}")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return zlib.decompressobj().decompress(raw, 5_000_000).decode("utf-8")
    except (binascii.Error, zlib.error, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"it is not a scenario written by sibsim ({err.__class__.__name__})") from None


def current_params() -> dict[str, str]:
    """The query string that reopens what is on screen now."""
    sc = ss.get("scenario")
    if sc is None:
        return {}
    origin = ss.get("scenario_origin")
    q = {origin[0]: str(origin[1])} if origin and not ss.get("scenario_edited") else {
        "spec": encode_spec(sc.canonical_json())}
    opts = ss.get("opts", {})
    q["trials"], q["seed"] = str(opts.get("trials", common.DEFAULT_TRIALS)), str(opts.get("seed", common.DEFAULT_SEED))
    if opts.get("also"):
        q["also"] = ",".join(opts["also"])
    run = ss.get("run")
    if run is not None and run.scenario.content_hash == sc.content_hash:
        q["trials"], q["seed"], q["run"] = str(run.trials), str(run.seed), "1"
        others = [m for m in getattr(run, "finance_models", ())[1:]]
        if others:
            q["also"] = ",".join(others)
    return q


def sync() -> None:
    """Write :func:`current_params` into the address bar (only when it changed).

    Called by app.py before the page runs: Streamlit keeps the address a page run started with, so a page
    that changes what the link should say (a new run) reruns the script.
    """
    q = current_params()
    if q and dict(st.query_params) != q:
        st.query_params.from_dict(q)


def _int(params, name: str, lo: int, hi: int, default: int) -> int:
    text = params.get(name)
    if text is None:
        return default
    try:
        v = int(text)
    except ValueError:
        v = None
    if v is None or not lo <= v <= hi:
        ss.link_problems.append(f"`{name}={text}` in the link is not a whole number from {lo:,} to {hi:,}; "
                                f"using {default:,}")
        return default
    return v


def open_from_link() -> None:
    """On a session's first run: make the linked scenario and run current. Problems are kept in
    ``ss.link_problems`` (shown by the page), and the default scenario stays."""
    if ss.get("link_opened"):
        return
    ss.link_opened = True
    ss.link_problems = []
    params = dict(st.query_params)
    if not params:
        return
    try:
        if "evidence" in params:
            rid = _int(params, "evidence", 1, 2**62, 0)
            if not rid:
                return
            store, reason = common.store()
            if store is None:
                raise SibsimError(reason)
            rec = store.get_run(rid)
            common.set_scenario(spec.validate(json.loads(rec["scenario"]["canonical_json"])),
                                source=f"evidence base run #{rid}", origin=("evidence", rid))
            params.setdefault("trials", str(rec["trials"]))
            params.setdefault("seed", str(rec["seed"]))
        elif "scenario" in params:
            files = common.shipped()
            name = params["scenario"]
            if name not in files:
                raise SibsimError(f"`scenario={name}`: no shipped scenario has that name; shipped: "
                                  f"{', '.join(files)}")
            common.set_scenario(spec.load(files[name]), source=f"scenarios/{name}.yaml", origin=("scenario", name))
        elif "spec" in params:
            try:
                text = decode_spec(params["spec"])
            except ValueError as err:
                raise SibsimError(f"the scenario in the link could not be read: {err}") from None
            common.set_scenario(spec.validate(json.loads(text)), source="a shared link")
            ss.scenario_edited = True
    except ScenarioError as err:
        ss.link_problems.append("The linked scenario is not valid:\n\n" + common.problem_lines(err.problems))
        return
    except (SibsimError, json.JSONDecodeError) as err:
        ss.link_problems.append(str(err))
        return
    trials = _int(params, "trials", common.MIN_TRIALS, common.MAX_TRIALS, common.DEFAULT_TRIALS)
    seed = _int(params, "seed", 0, 2**31 - 1, common.DEFAULT_SEED)
    known = set(common.finance_models())
    also = [m for m in params.get("also", "").split(",") if m]
    if bad := [m for m in also if m not in known]:
        ss.link_problems.append(f"`also={params['also']}`: {', '.join(bad)} not a finance model; models: "
                                f"{', '.join(sorted(known))}")
        also = [m for m in also if m in known]
    ss.opts = {"trials": trials, "seed": seed, "also": also, "trials_chosen": "trials" in params}
    if params.get("run") == "1" and ss.scenario is not None:
        ss.run = common.simulate_cached(ss.scenario.canonical_json(), trials, seed, tuple(also))


def show_problems() -> None:
    for msg in ss.get("link_problems", []):
        st.warning(f"From the link: {msg}", icon=":material/link_off:")
