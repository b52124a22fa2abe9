"""The CI rule: with LATENT_LAB_REQUIRE set (as .ci/run sets it) a browser test that cannot
find Chromium fails, and so does a test of the real Fashion-MNIST files that cannot find
them; without it, they skip with their reason."""

import os
import subprocess
import sys

import pytest

from benchmarks.harness import REPO

pytestmark = pytest.mark.slow  # two pytest runs of their own


def run_tests(file: str, **env: str) -> subprocess.CompletedProcess:
    """pytest on one test file in a process of its own, LATENT_LAB_REQUIRE unset unless given."""
    environment = {k: v for k, v in os.environ.items() if k != "LATENT_LAB_REQUIRE"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", file],
        cwd=REPO, capture_output=True, text=True, env={**environment, **env})


def run_a_browser_test(**env: str) -> subprocess.CompletedProcess:
    return run_tests("tests/test_browser_navigation.py",
                     LATENT_LAB_CHROMIUM="/no/such/chromium", **env)


def test_a_browser_test_without_chromium_skips_outside_ci():
    result = run_a_browser_test()
    assert result.returncode == 0, result.stdout
    assert "skipped" in result.stdout and "No Chromium at /no/such/chromium" in result.stdout


def test_a_browser_test_without_chromium_fails_where_it_is_required():
    result = run_a_browser_test(LATENT_LAB_REQUIRE="1")
    assert result.returncode == 1, result.stdout
    assert "LATENT_LAB_REQUIRE makes browser tests required" in result.stdout


def run_the_fashion_tests(**env: str) -> subprocess.CompletedProcess:
    return run_tests("tests/test_fashion.py", LATENT_LAB_FASHION_DIR="/no/such/folder", **env)


def test_fashion_tests_without_the_files_skip_outside_ci_and_fail_in_it():
    result = run_the_fashion_tests()
    assert result.returncode == 0, result.stdout
    assert "skipped" in result.stdout and "Fashion-MNIST is not installed" in result.stdout
    result = run_the_fashion_tests(LATENT_LAB_REQUIRE="1")
    assert result.returncode == 1, result.stdout
    assert "LATENT_LAB_REQUIRE makes fashion tests required" in result.stdout
