# sibsim developer and CI entry points.
#
#   make venv         create .venv (if missing) and install sibsim[app,test] into it
#   make app-venv     the same with only what the app needs (sibsim[app])
#   make system-deps  apt-get install what the tests need (chromium, postgresql, poppler), only if missing
#   make test         venv + system-deps, then the whole pytest suite
#   make app          install what the app needs, serve the Streamlit app (app.py) and print its URL
#                     (APP_ADDR=0.0.0.0 to listen on every interface, APP_PORT=8502 for another port)
#   make bench        run benchmarks/run_all.py (same-run ratios; BENCH_ARGS="--quick --only delivery,sweep")
#   make mutation     build deliberate bugs into the C participant pass; each must fail a test
#   make clean        remove caches and build leftovers (keeps .venv; see distclean)
#
# CI runs `bash .ci/run` (which runs `make test`) in a fresh clone on a fresh
# machine, so everything the tests need must be installed from here.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON3 ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
APP_STAMP := $(VENV)/.installed-app
EXTRAS  ?= app,test

# pytest-xdist workers; every worker starts its own PostgreSQL server and browser.
# Override with `make test PYTEST_WORKERS=0` for a serial run.
PYTEST_WORKERS ?= 2
PYTEST_ARGS    ?=

APP_PORT ?= 8501
APP_ADDR ?= 127.0.0.1

APT_PACKAGES_CHROMIUM := chromium
APT_PACKAGES_POSTGRES := postgresql
APT_PACKAGES_POPPLER  := poppler-utils

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1

.PHONY: venv app-venv build-deps system-deps test app bench mutation clean distclean

# ---------------------------------------------------------------- venv
venv: $(STAMP)

# The stamp is rebuilt when pyproject.toml changes (or the venv is missing).
# A venv whose interpreter no longer runs (e.g. its base Python went away)
# is recreated with --clear.
$(STAMP): pyproject.toml setup.py sibsim/_kernel.c sibsim/delivery/_queue.c sibsim/_normal.c | build-deps
	@if ! $(PY) -c 'import sys' >/dev/null 2>&1; then \
	    echo ">> creating $(VENV)"; \
	    $(PYTHON3) -m venv --clear $(VENV); \
	fi
	$(PY) -m pip install --quiet --progress-bar off --upgrade pip
	$(PY) -m pip install --progress-bar off -e '.[$(EXTRAS)]'
	@touch $@ $(APP_STAMP)

# The app alone: sibsim and Streamlit, none of the test tools (pytest, playwright, notebooks).
app-venv: $(APP_STAMP)

$(APP_STAMP): pyproject.toml setup.py sibsim/_kernel.c sibsim/delivery/_queue.c sibsim/_normal.c | build-deps
	@if ! $(PY) -c 'import sys' >/dev/null 2>&1; then \
	    echo ">> creating $(VENV)"; \
	    $(PYTHON3) -m venv --clear $(VENV); \
	fi
	$(PY) -m pip install --quiet --progress-bar off --upgrade pip
	$(PY) -m pip install --progress-bar off -e '.[app]'
	@touch $@

# ---------------------------------------------------------------- build tools
# sibsim builds three small C extensions (sibsim/_kernel.c, sibsim/delivery/_queue.c, sibsim/_normal.c): they want a C compiler
# and the Python headers. Installed from Debian only when missing.
build-deps:
	@missing=""; \
	command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || missing="$$missing gcc libc6-dev"; \
	inc=$$($(PYTHON3) -c 'import sysconfig; print(sysconfig.get_paths()["include"])'); \
	test -f "$$inc/Python.h" || missing="$$missing python3-dev"; \
	if [ -n "$$missing" ]; then \
	    echo ">> installing build tools:$$missing"; \
	    SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	    $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# ---------------------------------------------------------------- system packages
# Installs only what is missing; apt-get is not touched when all is present.
system-deps:
	@missing=""; \
	if ! command -v chromium >/dev/null 2>&1 && ! test -x /usr/bin/chromium; then \
	    missing="$$missing $(APT_PACKAGES_CHROMIUM)"; \
	fi; \
	have_pg=no; \
	for d in /usr/lib/postgresql/*/bin; do \
	    if test -x "$$d/initdb" && test -x "$$d/pg_ctl" && test -x "$$d/postgres"; then have_pg=yes; fi; \
	done; \
	if [ "$$have_pg" = no ]; then missing="$$missing $(APT_PACKAGES_POSTGRES)"; fi; \
	command -v pdftoppm >/dev/null 2>&1 || missing="$$missing $(APT_PACKAGES_POPPLER)"; \
	if [ -z "$$missing" ]; then \
	    echo ">> system-deps: chromium, postgresql and poppler already installed"; \
	    exit 0; \
	fi; \
	sudo=""; \
	if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
	echo ">> system-deps: installing$$missing"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing

# ---------------------------------------------------------------- tests
# pytest's own exit code is passed through (5 = no tests collected).
test: venv system-deps
	@if [ "$(PYTEST_WORKERS)" != 0 ]; then xdist="-n $(PYTEST_WORKERS)"; else xdist=""; fi; \
	echo ">> $(PY) -m pytest $$xdist $(PYTEST_ARGS)"; \
	$(PY) -m pytest $$xdist $(PYTEST_ARGS)

# ---------------------------------------------------------------- app
app: app-venv
	@if [ ! -f app.py ]; then echo "app.py not found in $$(pwd)" >&2; exit 1; fi
	@echo ">> Streamlit app at http://$(APP_ADDR):$(APP_PORT)/ (open it in a browser; Ctrl-C stops it)"
	$(VENV)/bin/streamlit run app.py \
	    --server.headless true \
	    --server.address $(APP_ADDR) \
	    --server.port $(APP_PORT) \
	    --browser.gatherUsageStats false

# ---------------------------------------------------------------- benchmarks
BENCH_ARGS ?=

bench: venv
	$(PY) benchmarks/run_all.py $(BENCH_ARGS)

# ---------------------------------------------------------------- mutation check
# Each mutant of sibsim/_kernel.c is compiled into a temporary directory and run
# against tests/test_kernel_ref.py and the cap tests (tests/mutation/run.py).
mutation: venv
	$(PY) tests/mutation/run.py

# ---------------------------------------------------------------- cleaning
clean:
	rm -rf build dist .pytest_cache .hypothesis *.egg-info .pgdata
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)
