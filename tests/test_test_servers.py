"""A server started for a test or a benchmark dies with the process that started it."""

import os
import signal
import subprocess
import sys
import time

from benchmarks.harness import REPO
from vae.processes import pid_alive

STARTER = """
import sys, tempfile
from pathlib import Path
from benchmarks.harness import start_app
proc, url = start_app(Path(tempfile.mkdtemp()), script="benchmarks/trivial_app.py")
print(proc.pid, flush=True)
sys.stdin.read()  # until killed
"""


def test_a_killed_test_run_leaves_no_server_behind():
    starter = subprocess.Popen([sys.executable, "-c", STARTER], cwd=REPO, text=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    server = int(starter.stdout.readline())
    try:
        assert pid_alive(server)
        os.kill(starter.pid, signal.SIGKILL)  # as a CI timeout does: no cleanup runs
        starter.wait()
        deadline = time.monotonic() + 10
        while pid_alive(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(server)
    finally:
        if pid_alive(server):
            os.kill(server, signal.SIGKILL)
