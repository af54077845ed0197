"""Figures for runs, scenarios and the evidence base (matplotlib only).

Every function returns a new :class:`matplotlib.figure.Figure` built without
pyplot, so no global figure state leaks between calls, threads or Streamlit
sessions; callers save or show it as they like (``fig.savefig(buf)``,
``st.pyplot(fig)``, a notebook cell). The app, notebooks and reports share
these functions. See :mod:`sibsim.plots.runs` (its helpers in :mod:`sibsim.plots.base`).
"""
