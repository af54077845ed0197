"""Evidence base page: browse, tag, annotate, open, rerun and export saved runs; the INDIGO reference class."""

from __future__ import annotations

import json
import os

import pandas as pd
import streamlit as st

from app_pages import common
from sibsim import indigo, outputs, spec, views
from sibsim.store.runs import differences
from sibsim.errors import SibsimError
from sibsim.plots import runs as plots

ss = st.session_state


def _tags(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def saved_runs(store) -> None:
    rows = store.list_runs()
    if not rows:
        st.info("No saved runs yet: save one from the Run page.")
        return
    df = pd.DataFrame(rows).set_index("id")
    all_tags = sorted({t for ts in df["tags"] for t in ts})
    f1, f2 = st.columns(2)
    name = f1.text_input("Name contains", key="ev_name")
    tags = f2.multiselect("Has all of the tags", all_tags, key="ev_tags")
    keep = df["name"].str.contains(name, case=False, regex=False) & df["tags"].map(lambda ts: set(tags) <= set(ts))
    shown = df[keep].assign(tags=lambda d: d["tags"].map(", ".join))
    st.dataframe(shown, width="stretch")
    st.download_button("Export this list (CSV)", shown.to_csv(), file_name="saved_runs.csv", mime="text/csv",
                       on_click="ignore")
    if shown.empty:
        st.info("No saved run matches these filters.")
        return

    rid = st.selectbox("Run", list(shown.index), format_func=lambda i: f"#{i} {shown.loc[i, 'name']}",
                       key="ev_run")
    rec = store.get_run(rid)
    st.markdown(f"**#{rid} {rec['name']}** · scenario `{rec['scenario_hash']}` · seed {rec['seed']} · "
                f"{rec['trials']:,} trials · saved {rec['created']:%Y-%m-%d %H:%M} UTC · "
                + ", ".join(f"{k} {v}" for k, v in rec["versions"].items()))
    left, right = st.columns([3, 2])
    with left:
        symbol = outputs.SYMBOLS.get(json.loads(rec["scenario"]["canonical_json"]).get("currency", ""), "")
        rows = [{"party": outputs.PARTIES[party], "output": outputs.label(k),
                 **{c: outputs.fmt_output(k, rec["metrics"][k].get(stat), symbol=symbol)
                    for c, stat in (("mean", "mean"), ("± mcse", "mcse"), ("P5", "p5"), ("P50", "p50"),
                                    ("P95", "p95"))}, "name": k}
                for party, names in outputs.by_party(rec["metrics"]).items() for k in names]
        common.show_table(pd.DataFrame(rows).set_index(["party", "output"]))
        if len(rec["models"]) > 1:
            st.markdown("**Finance models of this run, by party**")
            frame = views.party_table(views.record_results(rec), symbol=symbol)
            st.table(pd.DataFrame([c for _, _, c in frame], index=pd.MultiIndex.from_tuples(
                [(p, lab) for p, lab, _ in frame], names=["party", "figure"])))
    with right:
        with st.form(f"ev_tag_form_{rid}"):
            st.text_input("Tags", value=", ".join(rec["tags"]), key=f"ev_tag_text_{rid}",
                          help="comma separated; saving replaces the run's tags")
            st.text_area("Note", value=rec["note"], key=f"ev_note_{rid}", height=90)
            if st.form_submit_button("Save tags and note"):
                new = _tags(ss[f"ev_tag_text_{rid}"])
                try:
                    if gone := [t for t in rec["tags"] if t not in new]:
                        store.remove_tags(rid, gone)
                    if new:
                        store.add_tags(rid, new)
                    store.set_note(rid, ss[f"ev_note_{rid}"])
                    st.rerun()
                except SibsimError as e:
                    st.error(str(e))
        b1, b2 = st.columns(2)
        if b1.button("Open", key="ev_open", help="make its scenario current and show its results on the Run page",
                     width="stretch"):
            common.set_scenario(spec.validate(json.loads(rec["scenario"]["canonical_json"])),
                                source=f"evidence base run #{rid}", origin=("evidence", rid))
            ss.run = common.stored_run(store, rid)
            ss.opts = {"trials": int(rec["trials"]), "seed": int(rec["seed"])}
            st.switch_page("app_pages/run.py")
        if b2.button("Rerun", key="ev_rerun", help="regenerate it from its scenario, seed and trials",
                     width="stretch"):
            run = common.stored_run(store, rid)
            ss.run = run
            differ = differences(rec, run.to_dict())
            same = not differ
            verdict = (f"identical to the stored run: every output of {', '.join(run.finance_models)}" if same else
                       f"{len(differ)} stored numbers differ ({', '.join(differ[:5])}{', ...' if len(differ) > 5 else ''})")
            (st.success if same else st.warning)(
                f"Rerun of #{rid}: {verdict} (engine {run.engine_seconds:.2f} s). "
                "It is now the current run on the Run page.")
        st.download_button("Per-trial results (CSV)", lambda: store.get_per_trial(rid).to_csv(),
                           file_name=f"run_{rid}_trials.csv", mime="text/csv", on_click="ignore", width="stretch")


def reference(sc) -> None:
    st.subheader("Where the scenario sits among real impact bonds")
    projects, source = common.reference_projects(os.environ.get("SIBSIM_DB"))
    if sc is None:
        st.info("The current scenario has problems; fix them to place it in the reference class.")
        return
    sectors = sorted(projects["sector"].dropna().unique())
    sector = st.selectbox("Sector", ["All sectors", *sectors], key="ev_sector")
    rows = projects if sector == "All sectors" else projects[projects["sector"] == sector]
    values = common.reference_values(sc, ss.run)
    pos = indigo.reference_class(projects, **values, sector=None if sector == "All sectors" else sector,
                                 currency=sc.currency)
    table = pd.DataFrame(pos).T[["value", "percentile", "n", "q1", "median", "q3", "currency"]]
    st.dataframe(table.rename(index=lambda q: q.replace("_", " ")), width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="localized")
                                for c in ("value", "percentile", "q1", "median", "q3")})
    key = ("reference", sc.content_hash, sector, tuple(sorted(values.items())), source)
    st.image(common.figure_png(key, lambda: plots.reference_class(rows, pos)), width="stretch")
    from_run = ss.run is not None and ss.run.scenario.content_hash == sc.content_hash
    st.caption(f"Source: INDIGO impact bond dataset, Government Outcomes Lab, University of Oxford "
               f"({source}). Money is compared among projects priced in {sc.currency}; participants are "
               f"the scenario's {'mean starts in the last run' if from_run else 'contract maximum or scheduled starts'}.")


st.title("Evidence base")
store, reason = common.store()
if store is None:
    st.info(reason)
else:
    st.caption(f"Saved runs in `{store.url}`. A saved run keeps its scenario, seed, trials and versions, so it can "
               "be regenerated exactly.")
    saved_runs(store)
reference(ss.scenario)
