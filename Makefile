# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# pip (not uv/poetry): the pinned torch/torchvision wheels are found on this machine's disk.
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Simulation speaks with espeak-ng, caption scenes use the recorded voices of hedgewars-data, and
# the report tests look at the report in headless chromium (Debian packages); install them where we can.
system-deps:
	@{ command -v espeak-ng >/dev/null 2>&1 && command -v chromium >/dev/null 2>&1 && [ -d /usr/share/games/hedgewars/Data/Sounds/voices ]; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng hedgewars-data chromium; \
	  else echo "rayqa: install espeak-ng, hedgewars-data and chromium (apt-get install espeak-ng hedgewars-data chromium) for simulated speech and the report tests" >&2; fi; }

demo: $(STAMP)
	$(BIN)/rayqa demo

test: $(STAMP) system-deps
	$(BIN)/python -m pytest -ra tests

bench: $(STAMP)
	$(BIN)/python bench/scan_throughput.py

clean:
	rm -rf demo_out .rayqa .pytest_cache
