# `make run` and `make test` set up .venv when it is missing, then do their job.
PY := .venv/bin/python
PORT ?= 8501

.PHONY: run test test-fast lint bench checkpoints warm reliability clean

$(PY): requirements.txt requirements-dev.txt
	python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(PY)

# Ray (sweeps past one machine) is optional for the app; the tests need it.
RAY := .venv/.ray-installed
$(RAY): requirements-ray.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-ray.txt
	touch $(RAY)

run: $(PY)
	$(PY) -m streamlit run app.py --server.port $(PORT)

test: $(PY) $(RAY)
	$(PY) -m ruff check .
	$(PY) -m pytest -q

test-fast: $(PY)
	$(PY) -m pytest -q -m "not slow and not browser"

lint: $(PY)
	$(PY) -m ruff check .

bench: $(PY)
	$(PY) -m benchmarks.train_throughput

# Runs the reliability suites and writes their record to docs/reliability.md.
reliability: $(PY)
	LATENT_LAB_RELIABILITY_REPORT=docs/reliability.md $(PY) -m pytest -q -m reliability

# Rebuilds every shipped model from scratch on this machine's CPU (see README).
checkpoints: $(PY)
	bash checkpoints/build.sh

# Derives what the app shows of every model that lacks it (models trained here), so that a
# lesson's pages open ready; shipped models carry theirs already.
warm: $(PY)
	$(PY) -m vae warm

clean:
	rm -rf checkpoints/runs checkpoints/.cache .pytest_cache
