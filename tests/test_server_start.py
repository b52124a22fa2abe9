"""The server's start-up (ui/entry.py) as a real process runs it: every script thread that
Streamlit starts afterwards decodes with one OpenMP thread."""

import json
import subprocess
import sys
import textwrap

import pytest
from tiny_models import REPO

pytestmark = pytest.mark.slow

# A thread started after the start-up, as Streamlit starts one per script run, reports the
# OpenMP threads each runtime in the process would use there (torch's, scikit-learn's).
SCRIPT = textwrap.dedent("""
    import asyncio, json, threading
    from threadpoolctl import threadpool_info
    from ui.entry import before_sessions

    async def start():
        async with before_sessions(None):
            pass

    asyncio.run(start())
    seen = []
    run = threading.Thread(target=lambda: seen.extend(
        i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"))
    run.start()
    run.join()
    print(json.dumps(seen))
""")


def test_a_script_thread_started_after_the_start_up_has_one_openmp_thread(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "LATENT_LAB_RUNS_DIR": str(tmp_path / "runs"),
           "LATENT_LAB_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, text=True,
                         capture_output=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    threads = json.loads(out.stdout.strip().splitlines()[-1])
    assert threads and set(threads) == {1}, threads
