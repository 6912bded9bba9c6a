# RadiomicsWorkshop: `make demo` runs the pipeline on sample data, `make test` runs the suite.
# Both set themselves up from nothing but Python 3.10+ and a C compiler (for pyradiomics); `make test` also
# needs Python 3.12 (the Slicer-Python lane builds Slicer 5.10's Python with it) and cmake.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/radiomics-workshop
DATA   := .cache/sample-data
OUT    := out/demo
SHARED := ../shared/data/ibsi
# The suite on every core, one test file per worker (pytest-xdist); PYTEST_PARALLEL= runs it in one process.
PYTEST_PARALLEL ?= -n auto --dist loadfile

.PHONY: setup browser sample-data slicer-lane demo test test-fast bench clean

setup: $(VENV)/.installed browser

# PyPI's pyradiomics 3.1.0 sdist is rejected by pip (its metadata says 3.0.1a1), and
# 3.0.1 needs numpy at build time: build it without isolation after numpy.
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-deep.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet numpy setuptools wheel versioneer
	$(PY) -m pip install --quiet --no-build-isolation "pyradiomics==3.0.1"
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -r requirements-deep.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Headless Chromium and its driver, for the test that opens the demo's HTML report
# (Testing/examples/test_demo_report.py): the system's packages, installed when missing if we can.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium and chromium-driver with apt-get (for Testing/examples/test_demo_report.py)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
			|| echo "WARNING: apt-get could not install chromium chromium-driver; Testing/examples/test_demo_report.py will fail"; \
	else echo "NOTE: Testing/examples/test_demo_report.py needs Chromium and chromedriver:" \
		"sudo apt-get install chromium chromium-driver (Debian), or your system's chromium and chromedriver packages"; fi

# PyRadiomics' sample cases and baseline values, from its source distribution (pip download).
sample-data: $(DATA)/brain1_image.nrrd
$(DATA)/brain1_image.nrrd: | $(VENV)/.installed
	$(CLI) sample-data --dest $(DATA)

# The whole workflow through the CLI (RadiomicsWorkshopLib/examples/demo.py): out/demo/README.md describes what it writes.
demo: $(VENV)/.installed sample-data
	$(CLI) demo --out $(OUT) --data $(DATA) --overwrite $(if $(wildcard $(SHARED)),--ibsi $(SHARED))
	@echo "demo outputs in $(OUT)/:"; ls -1 $(OUT)

# The whole suite, the Slicer lanes included: Testing/slicer_module/test_slicer_python_lane.py runs in Slicer 5.10's
# Python, which slicer-lane builds first (Python 3.12: python3.12 on the PATH or in pyenv, or
# SLICER_PYTHON312=/path/to/python3.12) in .cache/.
test: setup sample-data slicer-lane
	$(PY) -m pytest $(PYTEST_PARALLEL)

# Slicer 5.10's Python for the Slicer-Python lane, built (or found up to date) before the suite runs.
slicer-lane: setup
	$(PY) Testing/tools/slicer_lane.py

# The edit loop: everything but the tests marked slow (the demo, the Slicer-Python lane, long trainings).
test-fast: setup sample-data
	$(PY) -m pytest -m "not slow" $(PYTEST_PARALLEL)

bench: setup sample-data
	$(PY) benchmarks/bench_overhead.py
	$(PY) benchmarks/bench_roi_crop.py
	$(PY) benchmarks/bench_ibsi2_filters.py
	$(PY) benchmarks/bench_robustness.py
	$(PY) benchmarks/bench_jobs.py
	$(PY) benchmarks/bench_cli_startup.py
	$(PY) benchmarks/bench_n4.py
	$(PY) benchmarks/bench_deep_batch.py
	$(PY) benchmarks/bench_modeling.py
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/bench_ibsi.py
	$(PY) benchmarks/bench_ibsi_chain.py
	$(PY) benchmarks/bench_engines.py
	$(PY) benchmarks/bench_cnn_data.py

clean:
	rm -rf $(VENV) .cache out
