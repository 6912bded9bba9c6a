# RadiomicsWorkshop: `make demo` runs the pipeline on sample data, `make test` runs the suite.
# Both set themselves up from nothing but Python 3.10+ and a C compiler (for pyradiomics).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
CLI    := $(VENV)/bin/radiomics-workshop
DATA   := .cache/sample-data
OUT    := out/demo
SHARED := ../shared/data/ibsi

.PHONY: setup sample-data demo test bench clean

setup: $(VENV)/.installed

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

# PyRadiomics' sample cases and baseline values, from its source distribution (pip download).
sample-data: $(DATA)/brain1_image.nrrd
$(DATA)/brain1_image.nrrd: | setup
	$(CLI) sample-data --dest $(DATA)

demo: setup sample-data
	mkdir -p $(OUT)
	$(CLI) sample-data --dest $(DATA) --manifest $(OUT)/manifest.csv
	$(CLI) extract --manifest $(OUT)/manifest.csv --preset MR --jobs 2 --out $(OUT)/features_MR.csv --progress bar
	$(CLI) extract --image $(DATA)/brain1_image.nrrd --mask $(DATA)/brain1_label.nrrd --preset MR_2D \
		--case-id brain1 --out $(OUT)/features_brain1_slicewise.csv --progress bar
	$(CLI) preprocess --image $(DATA)/brain1_image.nrrd --mask $(DATA)/brain1_label.nrrd --case-id brain1 \
		--recipe brain_MR --bias-field --out-dir $(OUT)/preprocessed --progress bar
	$(CLI) extract --manifest $(OUT)/preprocessed/manifest.csv --preset MR --out $(OUT)/features_brain1_preprocessed.csv \
		--progress bar
	@if [ -d $(SHARED) ]; then $(CLI) extract --image $(SHARED)/digital_phantom/nifti/image/phantom.nii.gz \
		--mask $(SHARED)/digital_phantom/nifti/mask/mask.nii.gz --preset IBSI --case-id ibsi_phantom \
		--out $(OUT)/features_ibsi_phantom.csv --progress none; fi
	@echo "demo outputs in $(OUT)/:"; ls -1 $(OUT)

test: setup sample-data
	$(PY) -m pytest

bench: setup sample-data
	$(PY) benchmarks/bench_overhead.py
	$(PY) benchmarks/bench_roi_crop.py
	$(PY) benchmarks/bench_jobs.py
	$(PY) benchmarks/bench_cli_startup.py
	$(PY) benchmarks/bench_n4.py
	$(PY) benchmarks/bench_deep_batch.py
	$(PY) benchmarks/bench_modeling.py
	$(PY) benchmarks/bench_dask.py

clean:
	rm -rf $(VENV) .cache out
