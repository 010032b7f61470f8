# Two commands for a new machine:  `make lab`  and  `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
KERNEL := music-generation-course
export MPLBACKEND := Agg

.PHONY: lab test unit notebooks bench clean-venv data book

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

# JupyterLab 4 asks on first start whether to fetch Jupyter news from the web: answer "no" for the course's
# JupyterLab (a settings override in the venv's application folder; a learner can still switch it on in Settings).
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(LAB_OVERRIDES): Makefile | $(STAMP)
	@mkdir -p $(dir $@)
	@echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}' > $@

lab: $(STAMP) $(LAB_OVERRIDES)
	unset MPLBACKEND; $(VENV)/bin/jupyter lab $(ALLOW_ROOT) notebooks/00_welcome.ipynb

# The whole course as static HTML with its plots and audio (runs every notebook: minutes). Open build/book/index.html.
book: $(STAMP)
	unset MPLBACKEND; $(PY) scripts/build_book.py --out build/book

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
