# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean system-deps real-media real-media-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# pip (not uv/poetry): the pinned torch/torchvision wheels are found on this machine's disk.
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Simulation speaks with espeak-ng (a Debian package); install it where we can.
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng; \
	  else echo "rayqa: install espeak-ng (apt-get install espeak-ng) for speech in simulated data" >&2; fi; }

# Real pristine media (rayqa/simulate/real.py, bench/real_content.py; licences in
# rayqa/simulate/SOURCES.md): photographs, footage, recorded music and voices from Debian packages.
REAL_MEDIA := plasma-workspace-wallpapers opencv-doc asc-music frozen-bubble-data lincity-ng-data hedgewars-data
# The tests need one of them (a photograph for tests/test_real_content.py): about 94 MB.
REAL_MEDIA_TEST := plasma-workspace-wallpapers

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "rayqa: install$$missing (apt-get install$$missing) for real media" >&2; fi; fi
endef

real-media:
	$(call apt_install,$(REAL_MEDIA))

real-media-test:
	$(call apt_install,$(REAL_MEDIA_TEST))

demo: $(STAMP)
	$(BIN)/rayqa demo

test: $(STAMP) system-deps real-media-test
	$(BIN)/python -m pytest -ra tests

bench: $(STAMP)
	$(BIN)/python bench/scan_throughput.py

clean:
	rm -rf demo_out .rayqa .pytest_cache
