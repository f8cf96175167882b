# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# pip (not uv/poetry): the pinned torch/torchvision wheels are found on this machine's disk.
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/rayqa demo

test: $(STAMP)
	$(BIN)/python -m pytest -ra tests

bench: $(STAMP)
	$(BIN)/python bench/scan_throughput.py

clean:
	rm -rf demo_out .rayqa .pytest_cache
