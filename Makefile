# The two commands of the README: `make serve` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV := .venv
PIP := $(VENV)/bin/pip

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime pyproject.toml
	$(PIP) install --quiet -e '.[test]'
	touch $@

# `make serve HOST=0.0.0.0 PORT=9000`: unset, the home's drawbridge.toml decides
# (127.0.0.1:8080 in a new home).
HOST ?=
PORT ?=

.PHONY: serve test
serve: $(VENV)/.runtime  ## set up, then serve ./drawbridge-home (http://127.0.0.1:8080/)
	$(VENV)/bin/drawbridge serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# skopeo and umoci (Debian) check the OCI images in the tests; installed when missing and
# this is a Debian/Ubuntu machine run as root, else those tests say they are skipped.
.PHONY: oci-tools
oci-tools:
	@command -v skopeo >/dev/null && command -v umoci >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq skopeo umoci >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq skopeo umoci >/dev/null 2>&1; }; }; } || \
	  echo "note: skopeo/umoci not available; the image checks will be skipped"

# chromium (Debian) for the web UI's browser tests, which Playwright drives through
# executable_path (Playwright's own browser download is not used); installed when missing
# and this is a Debian/Ubuntu machine run as root, else those tests say they are skipped.
.PHONY: browser
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; }; } || \
	  echo "note: chromium not available; the browser tests will be skipped"

# nginx (Debian) in front of `drawbridge serve` for the X-Accel-Redirect test
# (tests/clients/test_accel_redirect_clients.py); installed when missing and this is a
# Debian/Ubuntu machine run as root, else that test says it is skipped.
.PHONY: nginx
nginx:
	@command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq nginx >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq nginx >/dev/null 2>&1; }; }; } || \
	  echo "note: nginx not available; the X-Accel-Redirect test will be skipped"

# bubblewrap (Debian) for the build agent's sandbox, which the isolation test checks
# (tests/clients/test_agents.py); installed when missing and this is a Debian/Ubuntu machine
# run as root, else builds run unsandboxed and that test says it is skipped.
.PHONY: sandbox
sandbox:
	@command -v bwrap >/dev/null || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq bubblewrap >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; }; }; } || \
	  echo "note: bubblewrap not available; the sandbox test will be skipped"

# PostgreSQL (Debian's server binaries) for the suite's second pass, which puts every test
# home on a cluster the tests start themselves (tests/databases.py); installed when missing
# and this is a Debian/Ubuntu machine run as root, else that pass says it is skipped.
PG_CTL = ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null
.PHONY: postgresql
postgresql:
	@$(PG_CTL) || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq postgresql >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq postgresql >/dev/null 2>&1; }; }; } || \
	  echo "note: PostgreSQL not available; the PostgreSQL pass will be skipped"

# The linux-aarch64 cross build's stand-ins (tests/upstream.py): Debian's cross compiler
# (gcc-aarch64-linux-gnu, whose arm64 C library in /usr/aarch64-linux-gnu is also qemu's
# QEMU_LD_PREFIX), qemu-user to run the built package's import test, and arm64 in dpkg's
# architectures so `apt-get download libpython3.11-dev:arm64 ...` finds the arm64 Python
# packed as the host environment's `python`. Installed when missing and this is a
# Debian/Ubuntu machine run as root, else the cross build test says it is skipped.
.PHONY: cross-tools
cross-tools:
	@{ command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null && \
	   dpkg --print-foreign-architectures 2>/dev/null | grep -qx arm64; } || { \
	  [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && command -v dpkg >/dev/null && \
	  dpkg --add-architecture arm64 && apt-get update -qq >/dev/null 2>&1 && \
	  apt-get install -y -qq gcc-aarch64-linux-gnu qemu-user >/dev/null 2>&1; } || \
	  echo "note: the aarch64 cross tools are not available; the cross build test will be skipped"

# The suite in tiers (docs/architecture.md, "tests/"), each on both cores (whole files to a
# worker, so a file's module fixtures are made once): the fast ones first, so a mistake
# there stops the run in a couple of minutes; then the real clients, except the tests that time a
# server's answers, which run alone; then the tests that touch the database again with
# every home on PostgreSQL: the in-process tier, where every query of the app runs, and
# the real processes whose subject is the database (`database`: recovery, migrations).
PYTEST := $(VENV)/bin/python -m pytest
BOTH_CORES := -n 2 --dist loadfile
test: $(VENV)/.test oci-tools browser sandbox nginx postgresql cross-tools  ## set up, then run the whole test suite on SQLite, then what touches the database on PostgreSQL
	$(PYTEST) $(BOTH_CORES) tests/unit tests/http
	$(PYTEST) $(BOTH_CORES) -m "not serial" tests/clients tests/online
	$(PYTEST) -m serial tests/clients
	@if $(PG_CTL); then \
	  echo "== what touches the database again, every home on PostgreSQL =="; \
	  DRAWBRIDGE_TEST_DATABASE=postgresql $(PYTEST) $(BOTH_CORES) -m "(http or database) and not online" tests/http tests/clients; \
	else echo "note: no PostgreSQL: the PostgreSQL pass is skipped"; fi
