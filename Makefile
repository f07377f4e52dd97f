# hsnet-mm: `make demo` and `make test` create or refresh .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The stamp is keyed on the content of everything that decides the install.
REQ_HASH := $(shell cat requirements/*.txt setup.py | sha1sum | cut -c1-12)
STAMP := $(VENV)/.installed-$(REQ_HASH)
PYTEST_ARGS ?=
LINT_PATHS := hsnet_mm tools tests configs demo setup.py

.PHONY: venv lint format test test-fast demo clean wheelhouse offline-check

venv: $(STAMP)

$(STAMP):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -U pip -r requirements/build.txt
	$(PIP) install -q -r requirements/torch.txt
	@echo 'Installing mmcv 2.1.0 (compiled from source the first time: ~15 min on 2 cores, then cached by pip)'
	$(PIP) install -q --no-build-isolation -r requirements/mminstall.txt
	$(PIP) install -q --no-build-isolation -e '.[tests,optional,deploy]'
	$(PY) -c 'import hsnet_mm, mmseg, mmcv.ops'
	rm -f $(VENV)/.installed-*
	touch $@

lint: $(STAMP)
	$(PY) -m flake8 $(LINT_PATHS)
	$(PY) -m isort --check-only --diff $(LINT_PATHS)
	$(PY) -m yapf --diff --recursive $(LINT_PATHS)

format: $(STAMP)
	$(PY) -m isort $(LINT_PATHS)
	$(PY) -m yapf --in-place --recursive $(LINT_PATHS)

DEMO_CONFIG := configs/hsnet/hsnet_r18_synthetic_1shot.py
DEMO_DIR := work_dirs/demo

# Train HSNet on the synthetic benchmark (CPU, a few minutes), test it on
# classes it never saw, draw the episodes and the training curves, and
# compare with the baselines.
demo: $(STAMP)
	rm -rf $(DEMO_DIR)
	OMP_NUM_THREADS=2 $(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_DIR)
	$(PY) tools/test.py $(DEMO_CONFIG) $$(ls $(DEMO_DIR)/best_mIoU_*.pth) \
	    --work-dir $(DEMO_DIR) --show-dir $(DEMO_DIR)/vis --out $(DEMO_DIR)/results.json
	$(PY) tools/analysis_tools/plot_curves.py $(DEMO_DIR) --out $(DEMO_DIR)/curves.png
	$(PY) tools/analysis_tools/few_shot_baselines.py $(DEMO_CONFIG) \
	    $$(ls $(DEMO_DIR)/best_mIoU_*.pth) --out $(DEMO_DIR)/baselines.json
	@echo
	@echo "Episode pictures: $(DEMO_DIR)/vis/  curves: $(DEMO_DIR)/curves.png"
	@echo "Per-episode results: $(DEMO_DIR)/results.json  checkpoint: $$(ls $(DEMO_DIR)/best_mIoU_*.pth)"

test: lint
	$(PY) -m pytest -q --durations=15 $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -m 'not slow' $(PYTEST_ARGS)

# Offline install (docs/get_started.md, "Offline install"): gather for a
# target Python what tools/offline/install.sh installs on a machine without
# internet, e.g. `make wheelhouse PYTHON_VERSION=3.12 PARTIAL=1`. PARTIAL=1
# carries only what a machine with PyTorch, NumPy, OpenCV, SciPy and
# Matplotlib lacks (requirements/offline_partial.txt); PLATFORM takes wheel
# platform tags (commas between several). Needs pip and setuptools < 81:
# the venv's where it exists, else $(PYTHON)'s (no mmcv compile).
WHEELHOUSE_PY = $(if $(wildcard $(PY)),$(PY),$(PYTHON))
PYTHON_VERSION ?= $(shell $(WHEELHOUSE_PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
PLATFORM ?= manylinux2014_x86_64
PARTIAL ?=
WHEELHOUSE ?= wheelhouse/py$(PYTHON_VERSION)$(if $(filter 1,$(PARTIAL)),-partial)

wheelhouse:
	$(WHEELHOUSE_PY) tools/offline/make_wheelhouse.py --python-version $(PYTHON_VERSION) \
	    --platform '$(PLATFORM)' --dest $(WHEELHOUSE) $(if $(filter 1,$(PARTIAL)),--partial)

# The offline install's round trip here (~20 min: mmcv compiles; not part of
# `make test`): wheelhouses for this Python (partial) and 3.12 (partial and
# full), then a fresh venv with torch and the scientific stack gets hsnet-mm
# from the partial one with no network. Output: work_dirs/offline_check/.
offline-check: $(STAMP)
	bash tools/offline/offline_check.sh

clean:
	rm -rf $(VENV) work_dirs .pytest_cache
