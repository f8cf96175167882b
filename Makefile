# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test venv bench clean system-deps real-media real-media-test bench-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	# pip (not uv/poetry): the pinned torch/torchvision wheels are found on this machine's disk.
	$(BIN)/pip install -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests use: espeak-ng (simulated speech), hedgewars-data (recorded voices for
# caption scenes), chromium (the report looked at headless). Installed where we can (root + apt).
SYSTEM_DEPS := espeak-ng hedgewars-data chromium

system-deps:
	$(call apt_install,$(SYSTEM_DEPS))

# Real pristine media (rayqa/simulate/real.py, bench/real_content.py; licences in
# rayqa/simulate/SOURCES.md): photographs, footage, recorded music and voices from Debian packages.
REAL_MEDIA := plasma-workspace-wallpapers opencv-doc asc-music frozen-bubble-data lincity-ng-data hedgewars-data \
	warzone2100-music supertux-data extremetuxracer-data neverball-data lomiri-wallpapers-16.04
# The tests need two of them: a photograph (tests/test_real_content.py, about 94 MB) and recorded
# music (tests/test_audio_taxonomy.py's real-music negatives, about 10 MB).
REAL_MEDIA_TEST := plasma-workspace-wallpapers asc-music

define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "rayqa: install$$missing (apt-get install$$missing)" >&2; fi; fi
endef

real-media:
	$(call apt_install,$(REAL_MEDIA))

real-media-test:
	$(call apt_install,$(REAL_MEDIA_TEST))

# The benchmarks measure against FFmpeg's own filters (blackdetect, blockdetect, ebur128, ...) on
# the same files: the ffmpeg command line, beside the real media they are made from.
BENCH_DEPS := ffmpeg

bench-deps: real-media
	$(call apt_install,$(BENCH_DEPS))

demo: $(STAMP)
	$(BIN)/rayqa demo

test: $(STAMP) system-deps real-media-test
	$(BIN)/python -m pytest -ra tests

bench: $(STAMP) bench-deps
	$(BIN)/python bench/scan_throughput.py

clean:
	rm -rf demo_out .rayqa .pytest_cache
