"""Why app.py declares its server: so that no visitor ever meets the `pages/` folder served alone.

With a folder named `pages/` beside the entry script, Streamlit serves each file in it as a page
of its own, listed in the sidebar by file name ("app", "conditional", ...), until some script
calls st.navigation. The switch is one process-wide flag, `PagesManager.uses_pages_directory`:
set when the first browser session opens, cleared by the first st.navigation call. So on a
fresh server the first visitor saw that list for a second or two, and a deep link (a shared
Explore position, say) ran its page bare, without the app around it. No setting turns the folder
off (`client.showSidebarNavigation = false` hides st.navigation's own sidebar too) and the folder
keeps its name, so `streamlit run app.py` serves app.py as an `st.App` whose start-up clears the
flag before the first connection: from the first run on, app.py's st.navigation picks the page.

The same start-up imports pandas and plotly once, before any session: two first visits at once
(a class opening the app) imported them in two script threads, and Python's import-deadlock
breaker handed one thread a half-initialized pandas ("partially initialized module 'pandas' has
no attribute 'Series'", seen on Map while Explore's first run was under way).

It also does what the first visit to the default model would wait for: importing torch (2 s)
and, on a fresh copy, parsing its data into the disk cache (2 s for Fashion-MNIST), beside the
start of the fork server that training and map workers fork from (vae/processes.py: 4 s of
imports). The server answers those seconds later (7 s after its launch); its first visitor
waits for none of them, and a job's first curve or a map comes 2-4 s sooner.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from streamlit.runtime.pages_manager import PagesManager


@contextlib.asynccontextmanager
async def before_sessions(_app) -> AsyncIterator[None]:
    """st.App's lifespan: what the first st.navigation call would set, set before any session,
    and the libraries that script threads would otherwise race to import."""
    # One OpenMP thread in every thread of the server, set before torch loads its OpenMP
    # runtime, which reads it once: a decode's second thread would wait for the core a job or
    # another rerun holds. torch.set_num_threads(1) here reached this thread alone; each
    # script run's thread had two, and the idle one spun on the second core: 37 ms of the
    # server's CPU per slider release where one thread takes 17 ms.
    os.environ["OMP_NUM_THREADS"] = "1"
    import pandas  # noqa: F401  (plotly's array checks import it on first use)
    import plotly.graph_objects  # noqa: F401

    from ui.session import DEFAULT_MODEL
    from vae import checkpoints, derived, processes

    PagesManager.uses_pages_directory = False
    fork_server = processes.warm_up()
    # Whatever fails here (a missing model, its data gone, a bad cache file) fails again when
    # its page opens, which says what is wrong and what to do; the server must start.
    with contextlib.suppress(Exception):
        derived.shown_split(checkpoints.load(checkpoints.SHIPPED_DIR / DEFAULT_MODEL))
    fork_server.join()
    yield
