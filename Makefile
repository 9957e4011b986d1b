# dlbook — the two commands:  `make book` builds the HTML book, `make test` runs every check.
# Both create the virtual environment .venv when there is none.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# One BLAS thread: stored notebook outputs are bit-for-bit reproducible, and the
# two cores are not oversubscribed when tests run beside the kernel.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1
NOTEBOOKS ?= $(sort $(wildcard chapters/*.ipynb))
NBVAL := -p nbval --nbval --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env -p no:cacheprovider
# The AVX2 profile: numpy's AVX-512 code paths switched off and OpenBLAS's Haswell kernels. Stored outputs are
# made with it (`make run`) and checked with it as well as with whatever this CPU offers (`make notebooks`),
# so a laptop without AVX-512 and a server with it reproduce the same outputs.
AVX2_PROFILE := NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR" OPENBLAS_CORETYPE=Haswell
# Notebooks draw with the kernel's inline backend whatever backend the caller's environment asks for
# (MPLBACKEND=Agg on a headless machine would store no figures).
NB_ENV := env -u MPLBACKEND
# Tests and notebooks spread over every core (pytest-xdist); each notebook stays whole on one worker
# (--dist loadfile), as its cells depend on one another. JOBS=1 runs them in this process, one after another.
JOBS ?= auto
PARALLEL = $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadfile)
# The browser tests of one page share a worker (xdist_group), which loads the page once for all of them.
BROWSER_PARALLEL = $(if $(filter 1,$(JOBS)),,-n $(JOBS) --dist loadgroup)

.PHONY: sysdeps book test quick unit notebooks build-strict browser lab run vendor lint bench clean serve explore

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

## Debian packages the checks need (chromium, CJK fonts, npm), installed only when missing
sysdeps:
	bash scripts/install_system_deps.sh

## make vendor: the page assets from npm into _vendor/; only a missing npm (exit 3) is tolerated (CDNs then)
vendor:
	@rc=0; bash scripts/vendor_assets.sh || rc=$$?; \
	if [ $$rc = 3 ]; then echo "vendor: no npm, so the book will load its page assets from CDNs"; \
	elif [ $$rc != 0 ]; then echo "vendor: scripts/vendor_assets.sh failed (exit $$rc)" >&2; exit $$rc; fi

## make book: the HTML book, both editions, in _build/html/en and _build/html/zh (stored outputs; nothing re-executed)
book: $(VENV)/.installed vendor
	$(PY) scripts/build_book.py

## make test: lint, unit tests, notebooks (nbval strict), strict book build, browser tests
test: sysdeps $(VENV)/.installed vendor lint unit notebooks build-strict browser

## make quick: ruff and the unit tests not marked slow (no notebooks, no book, no browser): about a minute
quick: $(VENV)/.installed lint
	$(PY) -m pytest tests -q --ignore=tests/browser -m "not slow"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check --output-format concise src tests bench scripts

unit: $(VENV)/.installed
	$(PY) -m pytest tests -q --ignore=tests/browser $(PARALLEL)

## make explore [FACTOR=10]: the property tests on fresh random examples, FACTOR times as many as make test
## draws (which draws the same ones every run: tests/conftest.py). Each falsifying example is printed with its
## @reproduce_failure line and kept in .hypothesis/ for the next run; turn it into an @example or a test.
explore: $(VENV)/.installed
	HYPOTHESIS_PROFILE=explore HYPOTHESIS_EXPLORE_FACTOR=$(or $(FACTOR),10) \
		$(PY) -m pytest tests --ignore=tests/browser -m hypothesis -q -rf --hypothesis-show-statistics

## make notebooks: nbval strict on this CPU's numpy paths, then (where the CPU has AVX-512) on the AVX2 profile
notebooks: $(VENV)/.installed
	$(NB_ENV) $(PY) -m pytest $(NBVAL) $(PARALLEL) -q $(NOTEBOOKS)
	@if $(PY) scripts/cpu_features.py --has-avx512; then \
		echo "numpy used AVX-512 above; the notebooks again on the AVX2 profile:"; \
		$(NB_ENV) $(AVX2_PROFILE) $(PY) -m pytest $(NBVAL) $(PARALLEL) -q $(NOTEBOOKS); \
	else echo "no AVX-512 on this CPU: the run above already took numpy's AVX2 paths"; fi

build-strict: $(VENV)/.installed vendor
	$(PY) scripts/build_book.py --strict

browser: $(VENV)/.installed build-strict
	@if [ -d tests/browser ]; then $(PY) -m pytest tests/browser -q -p no:cacheprovider $(BROWSER_PARALLEL); fi

## make run NB=chapters/x.ipynb: execute one notebook in place, storing its outputs
run: $(VENV)/.installed
	$(NB_ENV) $(AVX2_PROFILE) $(PY) scripts/run_notebook.py $(NB)

## make serve [PREFIX=/dlbook/]: the built book on http://127.0.0.1:8000/ (under PREFIX, as GitHub Pages serves it)
serve: $(VENV)/.installed
	$(PY) scripts/serve_book.py --prefix "$(or $(PREFIX),/)"

## make lab [EDITION=en|zh]: work through the notebooks in JupyterLab (as root, e.g. in a container, with
## --allow-root).  The repository's notebooks hold both languages, each prose cell followed by its Chinese twin;
## EDITION=zh (or en) opens single-language copies written to _build/lab/<edition> (edits there are not saved
## back).  Not LANG=zh: LANG is the locale variable every program reads.
lab: $(VENV)/.installed
	$(if $(EDITION),$(PY) -m booktools.editions split $(EDITION) _build/lab/$(EDITION) > /dev/null,)
	$(VENV)/bin/jupyter lab $(if $(EDITION),_build/lab/$(EDITION)/chapters,chapters) \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

## make bench [TOPICS="conv rnn"]: speed ratios to the reference, at one and two threads
# Benchmarks drop the thread and kernel pins (OPENBLAS_CORETYPE, which some machine images set for older
# OpenBLAS builds), so numpy's OpenBLAS picks its kernels as on a reader's machine; tests keep the pins,
# which make stored outputs reproducible.
bench: $(VENV)/.installed
	env -u OMP_NUM_THREADS -u OPENBLAS_NUM_THREADS -u MKL_NUM_THREADS -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
		$(PY) -m bench $(TOPICS)

clean:
	rm -rf _build
