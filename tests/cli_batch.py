"""Run many `python -m vae ...` command lines in this one interpreter (tests/bad_input.py).

Each runs vae/__main__.py exactly as `python -m vae` does (runpy, the status carried by
SystemExit), in its own working directory, with its stdout and stderr captured and warnings
shown afresh; an exception that escapes is printed as the interpreter prints it, a traceback,
with status 1. Input on stdin: JSON [{"argv": [...], "cwd": "..."}]; output on stdout: JSON
[{"status", "stdout", "stderr", "seconds"}].
"""

import contextlib
import io
import json
import os
import runpy
import sys
import time
import traceback
import warnings


def run(argv: list[str], cwd: str) -> dict:
    os.chdir(cwd)
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["python -m vae", *argv]
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():  # a fresh filter state shows every warning again
        try:
            runpy.run_module("vae", run_name="__main__", alter_sys=True)
            status = 0
        except SystemExit as done:
            if done.code is None or isinstance(done.code, int):
                status = done.code or 0
            else:  # SystemExit("text"): the interpreter prints the text, status 1
                print(done.code, file=sys.stderr)
                status = 1
        except BaseException:  # noqa: BLE001 - what the interpreter would print
            traceback.print_exc()
            status = 1
    return {"status": status, "stdout": out.getvalue(), "stderr": err.getvalue(),
            "seconds": round(time.perf_counter() - start, 4)}


def main() -> None:
    cases = json.load(sys.stdin)
    # Imported before the first case, so each case's time is its own: a real process spends
    # about a second and a half more, once, starting (the suites measure that apart).
    import vae.cli  # noqa: F401
    import vae.runner  # noqa: F401

    results = [run(case["argv"], case["cwd"]) for case in cases]
    sys.__stdout__.write(json.dumps(results))


if __name__ == "__main__":
    main()
