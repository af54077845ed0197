"""sibsim app: compare Social Impact Bond scenarios and build an evidence base.

    streamlit run app.py        (or `make app`)

A thin shell over the public API: each page in app_pages/ reads its widgets,
builds a scenario, calls sibsim (cached on the scenario's canonical JSON,
trials and seed) and draws with sibsim.plots. The evidence base is the store
at $SIBSIM_DB (default ./evidence.db).
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))  # app_pages, whatever the working directory

from app_pages import common, links  # noqa: E402

st.set_page_config(page_title="sibsim", layout="wide")
common.init_state()
links.open_from_link()
links.sync()  # before the page runs: a change made while a page runs reaches the address on the next run
common.warm_up()

pages = [
    st.Page("app_pages/scenario.py", title="Scenario", icon=":material/edit_note:", default=True),
    st.Page("app_pages/run.py", title="Run", icon=":material/play_arrow:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/analysis.py", title="Analysis", icon=":material/query_stats:"),
    st.Page("app_pages/evidence.py", title="Evidence base", icon=":material/inventory_2:"),
    # issue 13: small providers and outcomes funds
    st.Page("app_pages/readiness.py", title="Provider readiness", icon=":material/savings:"),
    st.Page("app_pages/portfolio.py", title="Fund portfolio", icon=":material/account_balance:"),
]
pages.append(st.Page("app_pages/voi.py", title="Value of information", icon=":material/lightbulb:"))  # issue 12
pages.append(st.Page("app_pages/monitor.py", title="Monitor", icon=":material/monitoring:"))  # issue 11
page = st.navigation(pages)

with st.sidebar:
    sc = st.session_state.scenario
    if sc is not None:
        st.caption(f"Current scenario: **{sc.name}**  \n`{sc.content_hash}` · {common.source_label()}")
    else:
        n = len(st.session_state.problems)
        st.caption(f"Current scenario has {n} problem{'s' * (n != 1)}: fix them on the Scenario page.")
    run = st.session_state.run
    if run is not None:
        st.caption(f"Last run: {common.run_label(run)}")
    st.caption(f"sibsim {common.sibsim.__version__}")

links.show_problems()
page.run()
