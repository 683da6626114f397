# GeoGen: the two set-up commands are `make demo` and `make test` (see README.md).
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast reproduce experiment-small experiment-paper

# System package Open3D needs (libusb); installed only when missing and we are root.
sysdeps:
	@dpkg -s libusb-1.0-0 >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq libusb-1.0-0) >/dev/null; \
	  else echo "error: Open3D needs the Debian package libusb-1.0-0: run 'sudo apt-get install -y libusb-1.0-0'"; exit 2; fi; }

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory sysdeps
	python3 -m venv $(VENV)
	# torch first: the CPU build (pip otherwise picks a multi-GB CUDA build)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,id,ray]'
	touch $(STAMP)

install: $(STAMP)

# Main job, end to end on the tiny default.
demo: install
	$(PY) -m scripts.demo

# The numbers of docs/results.md: validation screen + 3 variants × 3 seeds × 15 kimg on the tiny preset, test split scored once (~3 h on 2 cores).
reproduce: install
	$(PY) -m scripts.reproduce

# Longer CPU experiment (small preset, 100 kimg per variant: days) and the paper's scale on GPUs.
experiment-small: install
	$(PY) -m scripts.reproduce --preset small

experiment-paper: install
	$(PY) -m scripts.reproduce --preset paper --gpus $${GPUS:-8}

test: install
	$(PY) -m pytest -q -n 2 --dist loadfile

test-fast: install
	$(PY) -m pytest -q -m "not slow"
