"""Pages run inside app.py's navigation; this makes sure they do on a fresh server too.

Streamlit serves the `pages/` folder on its own until app.py has run once: a first visitor who
opens a deep link (a shared Explore position, say) would get the bare page, without the
sidebar or the layout. Such a run hands over to app.py, which routes to the same page.
"""

from pathlib import Path

import streamlit as st

APP = Path(__file__).resolve().parent.parent / "app.py"
FLAG = "_run_by_app"


def mark_app_run() -> None:
    """Called by app.py just before it runs the page."""
    st.session_state[FLAG] = True


def require_app() -> None:
    """First line of every page: run through app.py, or hand over to it and stop."""
    if st.session_state.get(FLAG):
        return
    code = compile(APP.read_text(), str(APP), "exec")
    exec(code, {"__name__": "__main__", "__file__": str(APP)})
    st.stop()
