# One-command set-up: every target creates .venv on first use.
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.mmris-installed
TORCH_SPEC ?= torch==2.13.0
export MAX_JOBS ?= 2
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

.PHONY: venv test demo demo-data demo-baseline smoke clean-venv test-browser

venv: $(STAMP)

$(STAMP): setup.py requirements/runtime.txt requirements/tests.txt requirements/build.txt requirements/mim.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q "pip<25.3"
	$(PIP) install -q -r requirements/build.txt
	$(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q "numpy" "mmengine==0.10.7"
	@echo "Building/installing mmcv 2.1.0 (12-23 min on 2 cores the first time, then pip's wheel cache)"
	$(PY) -c "import mmcv.ops" 2>/dev/null || MMCV_WITH_OPS=1 $(PIP) install --no-build-isolation "mmcv==2.1.0"
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt -r requirements/build.txt
	$(PIP) install -q --no-deps "openmim==0.3.9"
	$(PIP) install -q -r requirements/mim.txt -r requirements/build.txt
	$(PIP) install -q --no-build-isolation -e .
	touch $(STAMP)

test: venv
	$(PY) -m pytest tests

# The web demo driven by a headless Chromium (tests/test_browser): installs
# the demo's requirements and selenium into the venv, and Debian's chromium
# and chromium-driver when missing (apt-get; sudo unless root).
test-browser: venv
	$(PIP) install -q -r requirements/demo.txt "selenium>=4.10"
	@if ! command -v chromium >/dev/null 2>&1 || \
	    ! command -v chromedriver >/dev/null 2>&1; then \
		echo "Installing chromium and chromium-driver with apt-get"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -q && \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
			chromium chromium-driver; \
	fi
	MMRIS_REQUIRE_BROWSER=1 $(PY) -m pytest tests/test_browser -rs

SMOKE_CONFIG := configs/demo/textblind_fcn_refer-sample.py

# A smoke run of the whole toolchain on the bundled real-annotation sample
# (build data, train, evaluate): about 20 s.
smoke: venv
	$(PY) tools/misc/make_refer_sample.py data/refer_sample
	$(PY) tools/train.py $(SMOKE_CONFIG) --work-dir work_dirs/smoke
	$(PY) tools/test.py $(SMOKE_CONFIG) work_dirs/smoke/epoch_2.pth --work-dir work_dirs/smoke

# The demo: build the synthetic shapes data if missing, train a small CARIS
# with MaskRIS on the CPU, evaluate on val/testA/testB/testOcc (one metric
# table per split). `demo-baseline` trains the same CARIS without MaskRIS.
# Work dirs: work_dirs/maskris_tiny_shapes, work_dirs/caris_tiny_shapes.
# Two torch threads by default (the README's timings, idle 2-core CPU); on a
# machine shared with other jobs use DEMO_THREADS=1: busy threads stall
# each other.
DEMO_DATA := data/shapes
# the demo's variant of the data set: one colour per object, objects 1.25x
# the default size (docs/demo_data.md)
DEMO_DATA_ARGS := --distinct-colors --size-scale 1.25
DEMO_THREADS ?= 2
DEMO_RUN = OMP_NUM_THREADS=$(DEMO_THREADS) $(PY) tools/train.py

demo-data: venv
	$(PY) tools/misc/make_demo_data.py $(DEMO_DATA) $(DEMO_DATA_ARGS)

demo: demo-data
	$(DEMO_RUN) configs/demo/maskris_tiny_shapes.py

demo-baseline: demo-data
	$(DEMO_RUN) configs/demo/caris_tiny_shapes.py

clean-venv:
	rm -rf $(VENV)
