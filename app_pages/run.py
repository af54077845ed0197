"""Run page: simulate the current scenario and show headline figures, distributions and cash over time."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from app_pages import common
from sibsim.errors import SibsimError
from sibsim import report
from sibsim.plots import runs as plots

ss = st.session_state

st.title("Run")
sc = ss.scenario
if sc is None:
    st.warning("The current scenario has problems; fix them on the Scenario page first.\n\n"
               + common.problem_lines(ss.problems))
    st.page_link("app_pages/scenario.py", label="Go to the Scenario page", icon=":material/edit_note:")
    st.stop()

st.caption(f"Scenario **{sc.name}** · hash `{sc.content_hash}` · {common.source_label()}. "
           "The same scenario, trials and seed always give the same numbers.")
others = [m for m in common.finance_models() if m != common.own_model(sc)]
c1, c2, c3, c4 = st.columns([2, 2, 3, 1.2], vertical_alignment="bottom")
suggested = common.suggested_trials(sc)  # issue 14: fewer for a delivery scenario, until the user chooses
if not ss.opts.get("trials_chosen") and ss.opts["trials"] != suggested:
    ss.opts = {**ss.opts, "trials": suggested}
    ss["trials"] = suggested


def _chose_trials():
    ss.opts = {**ss.opts, "trials_chosen": True}


trials = int(c1.number_input("Trials", min_value=common.MIN_TRIALS, max_value=common.MAX_TRIALS, step=1_000,
                             value=ss.opts["trials"], on_change=_chose_trials,
                             help=f"{suggested:,} suggested for this scenario" + (
                                 " (each delivery trial simulates a waiting list)" if sc.delivery else ""),
                             key="trials"))
seed = int(c2.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, value=ss.opts["seed"], key="seed"))
also = c3.multiselect("Also evaluate (same draws)", others, default=[m for m in ss.opts.get("also", []) if m in others],
                      key="also", disabled=not others, placeholder="other finance models" if others else "none yet")
ss.opts = {"trials": trials, "seed": seed, "also": also, "trials_chosen": ss.opts.get("trials_chosen", False)}
if c4.button("Run", type="primary", key="go", width="stretch"):
    t0 = time.perf_counter()
    with st.status(f"Simulating {trials:,} trials of {sc.name}…", expanded=False) as status:
        bar = st.progress(0.0, text="Starting…")

        def _progress(done: int, total: int) -> None:
            spent = time.perf_counter() - t0
            left = spent / done * (total - done)
            bar.progress(done / total, text=f"{done:,} of {total:,} trials · {spent:.0f} s so far, "
                                            f"about {left:.0f} s left")

        chunk = 250 if sc.delivery is not None else (2_000 if trials >= 20_000 else None)  # a bar that moves
        run = common.simulate_with_progress(sc.canonical_json(), trials, seed, tuple(also), _progress, chunk)
        bar.empty()
        wall = time.perf_counter() - t0
        done = f"Simulated {trials:,} trials in {wall:.2f} s " + (
            f"(engine {run.engine_seconds:.2f} s)" if wall >= run.engine_seconds else "(from the cache)")
        status.update(label=done, state="complete")
    ss.run, ss.run_t0, ss.run_note = run, t0, (common.run_key(run), done)
    st.rerun()  # so the address bar (app_pages.links) names this run

run = ss.run
if run is None:
    st.info("Choose the number of trials and a seed, then press **Run**.")
    st.stop()
key = common.run_key(run)
if key != f"{sc.content_hash}-{trials}-{seed}":
    st.warning(f"These results are for {common.run_label(run)} (hash `{run.scenario.content_hash}`); "
               "the scenario, trials or seed have changed since. Press **Run** to update.")

h = common.headline(run)
for col, (label, (value, help_)) in zip([c for _ in range(0, len(h), 3) for c in st.columns(3)], h.items()):
    col.metric(label, value, help=help_, border=True)
if ss.get("run_t0"):  # just pressed: the status above says how long the engine took
    shown = f"headline figures shown {time.perf_counter() - ss.pop('run_t0'):.2f} s after pressing Run"
    ss.run_note = (key, f"{ss.run_note[1]}; {shown}")
    st.caption(ss.run_note[1] + ".")
elif ss.get("run_note", ("",))[0] == key:
    st.caption(ss.run_note[1] + ".")

if dlv := common.delivery_figures(run):
    st.subheader("Delivery: referrals, caseworkers and the waiting list")
    for col, (label, (value, help_)) in zip([c for _ in range(0, len(dlv), 3) for c in st.columns(3)], dlv.items()):
        col.metric(label, value, help=help_, border=True)

if len(run.finance_models) > 1:
    st.subheader("Finance models on the same draws, by party")
    st.table(common.party_frame(common.model_views(run)))
    st.caption(f"Each column is one finance model evaluated on the same draws (common random numbers); the "
               f"scenario's own model ({run.finance_models[0]}) is shown everywhere below, and the Compare page "
               "puts the models' distributions side by side. \"no investor\": the model has no investors.")

st.subheader("Distributions")
a, b = st.columns(2)
first = "investor_irr" if "investor_irr" in run.metrics else "public_cost"
a.image(common.figure_png((key, "hist", first), lambda: plots.hist(run, first)), width="stretch")
b.image(common.figure_png((key, "hist", "outcome_payments"), lambda: plots.hist(run, "outcome_payments")),
        width="stretch")

st.subheader("Cash over time")
parties = plots.active_parties(run)
st.image(common.figure_png((key, "fans"), lambda: plots.fan_charts(run, parties)), width="stretch")
quiet = [plots.PARTIES.get(p, p) for p in run.paths if p not in parties and p not in plots.TOTALS]
st.caption(f"Cumulative net cash per party: median, P25-P75 and P5-P95 across the first "
           f"{len(next(iter(run.paths.values()))):,} trials. "
           + (f"No cash (beyond rounding) in any trial for: {', '.join(quiet)}." if quiet else ""))

st.subheader("Percentiles, by party")
common.show_table(common.summary_table(run))
common.show_table(common.probability_table(run))
common.glossary()

st.caption("The address in your browser's bar reopens this scenario and run: copy it to share this view.")
st.subheader("Download")
stem = f"{run.scenario.content_hash}_seed{run.seed}_{run.trials}"
d1, d2, d3, d4, d5 = st.columns(5)
d1.download_button("Run record (JSON)", run.to_json(), file_name=f"run_{stem}.json", mime="application/json",
                   on_click="ignore", width="stretch")
d2.download_button("Per-trial results (CSV)", lambda: run.to_frame().to_csv(), file_name=f"trials_{stem}.csv",
                   mime="text/csv", on_click="ignore", width="stretch")
d3.download_button("Figures (PNG)", lambda: plots.to_png(plots.overview(run, parties=parties)),
                   file_name=f"figures_{stem}.png", mime="image/png", on_click="ignore", width="stretch")
d4.download_button("Workbook (Excel)", lambda: report.xlsx_bytes(run), file_name=f"sibsim_{stem}.xlsx",
                   mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", on_click="ignore",
                   width="stretch", help="Inputs, summary per finance model and party, cash flows per period, "
                                         "probabilities and provenance")
d5.download_button("Report (PDF)", lambda: report.pdf_bytes(run), file_name=f"sibsim_{stem}.pdf",
                   mime="application/pdf", on_click="ignore", width="stretch",
                   help="A few printable pages: the question, the contract, headline results, figures, assumptions")

left, right = st.columns(2)
with left:
    st.subheader("Save to the evidence base")
    store, reason = common.store()
    if store is None:
        st.info(reason)
    else:
        with st.form("save_form"):
            tags = st.text_input("Tags (comma separated)", key="save_tags")
            note = st.text_area("Note", key="save_note", height=80)
            if st.form_submit_button("Save to evidence base"):
                try:
                    tagged = [t.strip() for t in tags.split(",") if t.strip()]
                    rid = store.save_run(run.to_dict(), run.per_trial(), tags=tagged, note=note)
                    st.success(f"Saved as run #{rid}" + (f", tagged {', '.join(tagged)}" if tagged else ", no tags")
                               + f". Its link: [run #{rid}](run?evidence={rid}&trials={run.trials}"
                               f"&seed={run.seed}&run=1&also={','.join(run.finance_models[1:])})")
                except SibsimError as e:
                    st.error(f"Not saved: {e}")
with right:
    st.subheader("Compare")
    label = st.text_input("Label", value=common.run_label(run), key=f"compare_label_{key}")
    if st.button("Add to comparison", key="add_compare"):
        base, n = label, 2
        while label in ss.compare and ss.compare[label] is not run:
            label, n = f"{base} ({n})", n + 1
        ss.compare = {**ss.compare, label: run}
        st.success(f"Added; {len(ss.compare)} run{'s' * (len(ss.compare) != 1)} on the Compare page.")
