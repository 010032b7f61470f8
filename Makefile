# Two commands for a new machine:  `make lab`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := music-generation-course
export MPLBACKEND := Agg

.PHONY: lab test unit notebooks bench clean-venv data

# TinySoundFont's bindings (SoundFont rendering, helpers/soundfont.py) are installed without dependencies: the
# package declares pyaudio, which it needs only for live playback (Synth.start) and which needs the PortAudio
# headers to build, so it fails on a bare machine. The course renders offline and never imports pyaudio.
TINYSOUNDFONT := tinysoundfont==0.3.7

$(STAMP): requirements.txt pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(TINYSOUNDFONT)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (music generation course)" >/dev/null
	@touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and cloud notebooks often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	unset MPLBACKEND; $(VENV)/bin/jupyter lab $(ALLOW_ROOT) notebooks/00_welcome.ipynb

# Unit tests, then every notebook through nbval; the slowest items are listed at the end.
test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-current-env --durations=15 -q

unit: $(STAMP)
	$(PY) -m pytest tests -q --durations=10

notebooks: $(STAMP)
	$(PY) -m pytest notebooks --nbval-lax --nbval-current-env --durations=15 -q

bench: $(STAMP)
	$(PY) tests/benchmarks/run_all.py

# Rebuild data/ from the music21 corpus (needs music21, which the course itself does not).
data: $(STAMP)
	$(PY) -m pip install --quiet music21==10.5.1
	$(PY) data/build_corpora.py

clean-venv:
	rm -rf $(VENV)
