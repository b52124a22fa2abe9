"""Latent Lab: see what a variational autoencoder learns. `make run` starts it.

`streamlit run app.py` first imports this file to find `app`, the server (ui/entry.py says why
there is one); then every browser session runs it as its script, as "__main__"."""

import streamlit as st

from ui import entry

# The pages whose first screen holds plotly charts.
CHART_PAGES = {"Train", "Map", "Interpolate", "Disentangle"}


def main() -> None:
    """One run of a session: the navigation, the sidebar, then the page the URL names."""
    # Imported on the first run, not by the server.
    from ui import presentation, render, sidebar, state
    from vae.data import DataError

    # Our own picture, not a :material/...: icon, whose favicon Streamlit would fetch from
    # Google's fonts; inline, because the page asks for its favicon again at every rerun, and
    # as a file that was an HTTP request to the server per slider move (docs/design.md §6).
    st.set_page_config(page_title="Latent Lab", page_icon=render.FAVICON, layout="wide")

    pages = [
        st.Page("pages/explore.py", title="Explore", icon=":material/tune:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/map.py", title="Map", icon=":material/scatter_plot:"),
        st.Page("pages/interpolate.py", title="Interpolate", icon=":material/linear_scale:"),
        st.Page("pages/conditional.py", title="Conditional", icon=":material/category:"),
        st.Page("pages/disentangle.py", title="Disentangle", icon=":material/grid_view:"),
        st.Page("pages/models.py", title="Models", icon=":material/inventory_2:"),
        st.Page("pages/lesson.py", title="Lesson", icon=":material/school:"),
    ]

    state.server_started()
    presentation.from_url()
    page = st.navigation(pages, position="top" if render.presentation() else "sidebar")
    if page.title in CHART_PAGES:
        render.preload_charts()
    sidebar.render()
    try:
        page.run()
    except DataError as e:  # a model whose data is gone: the sentence says what to do
        st.error(str(e))


if __name__ == "__main__":
    main()
else:
    app = st.App(__file__, lifespan=entry.before_sessions)
