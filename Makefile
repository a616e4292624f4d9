# The verbs of the workshop. `make` alone lists them.
.DEFAULT_GOAL := help
SHELL := /bin/bash

PY := .venv/bin/python
# Compose v2 (`docker compose`) where it is installed, else Compose v1 (`docker-compose`);
# COMPOSE="docker-compose" (in the environment or on the command line) picks one.
# COMPOSE_PROJECT_NAME, the ports (ZOO1_CLIENT_PORT...) and the settings (LOG_FORMAT...)
# pass through the environment to Compose, as to `docker compose` itself.
ifndef COMPOSE
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
endif
DEMO := COMPOSE="$(COMPOSE)" docker/demo.sh
# The fault demos, one line each in docker/demos.txt (verb|title|help|figures): each is a
# verb `make demo-<verb>`, listed by `make help` with its help text.
DEMO_VERBS := $(addprefix demo-,$(shell sed -n 's/^\([a-z0-9-]*\)|.*/\1/p' docker/demos.txt))
# Every shell script of the project, for shellcheck.
SHELL_SCRIPTS := .ci/run $(wildcard docker/*.sh docker/standins/*.sh docker/standins/zookeeper/*.sh bench/*.sh)

.PHONY: help install test test-under-load lint compose-v2 curator standins up down logs status \
	watch ledger depose timeline judge $(DEMO_VERBS) demo-numbers bench soak

# The verbs with a `##` comment, in order; the demos where their rule stands.
help: ## List the verbs
	@awk -F':.*## ' -v demos=docker/demos.txt ' \
		/^[a-z0-9-]+:.*## / { printf "  make %-16s %s\n", $$1, $$2 } \
		/^\$$\(DEMO_VERBS\):/ { \
			while ((getline line < demos) > 0) if (line ~ /^[a-z0-9-]+\|/) { \
				split(line, field, "|"); printf "  make %-16s %s\n", "demo-" field[1], field[3] \
			} \
		}' $(MAKEFILE_LIST)

install: .venv/installed ## Create .venv with the pinned runtime and dev requirements

# Rebuilt when a requirements file changes; `make test` installs first on a new clone.
.venv/installed: requirements.txt requirements-dev.txt
	python3 -m venv .venv
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: .venv/installed ## Run every test: unit, integration (ZooKeeper), end to end (Docker); PYTEST_ARGS=...
	$(PY) -m pytest $(PYTEST_ARGS)

# Timing bugs hide on an idle machine: a test that passes only there waited for a moment,
# not for a condition. Both cores of the 2-core kind busy (tests/conftest.py: --cpu-hogs).
test-under-load: .venv/installed ## Every test again with both cores kept busy; PYTEST_ARGS=...
	$(PY) -m pytest --cpu-hogs 2 $(PYTEST_ARGS)

lint: .venv/installed ## ruff check, ruff format --check, shellcheck
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	shellcheck $(SHELL_SCRIPTS)

compose-v2: ## Install Compose v2 (`docker compose`) as a Docker CLI plugin, from Debian's package
	docker/install-compose-v2.sh

curator: ## Fetch Curator 5.7.1 and the ZooKeeper 3.9.3 client (Debian 13's) for the benchmark, into .build/
	bench/install-curator.sh

standins: ## Build the stand-in images (no registry here: CI), name them in .env, warm the build cache
	docker/standins/build.sh --env-file .env
	docker/standins/warm-build-cache.sh

up: ## Build and start the ensemble and both workers, in the background
	$(COMPOSE) up -d --build
	@echo "Watch: one worker logs \"Processing...\" once per second, the other follows: make logs"

down: ## Stop and remove everything, the ensemble's data volumes too
	$(COMPOSE) down -v

logs: .venv/installed ## Follow the two workers' logs, merged by time, one short line each
	$(PY) -m workshop.logs --compose "$(COMPOSE)" $(ARGS)

status: .venv/installed ## Who leads, who waits, the last units, each ZooKeeper server's role; ARGS=--json
	$(PY) -m workshop.status --compose "$(COMPOSE)" $(ARGS)

watch: .venv/installed ## The same, redrawn at every change until Ctrl-C (ZooKeeper watches)
	$(PY) -m workshop.status --compose "$(COMPOSE)" --watch $(ARGS)

ledger: .venv/installed ## The work's ledger: its last units and refusals, one line each; N=20, ARGS=--json
	$(PY) -m workshop.status --compose "$(COMPOSE)" --ledger $(or $(N),20) $(ARGS)

depose: .venv/installed ## Ask the leading worker to resign: it stops, then rejoins at the back
	$(PY) -m workshop.status --compose "$(COMPOSE)" --depose

timeline: .venv/installed ## Who led when, from the workers' logs: a PNG and text; ARGS=--help
	$(PY) -m workshop.timeline --compose "$(COMPOSE)" $(ARGS)

judge: .venv/installed ## Judge the ledger against the workers' logs: one line per finding, exit 1 on a violation; ARGS=--last 60
	$(PY) -m testbed.ledger --compose "$(COMPOSE)" $(ARGS)

# `make demo-stop` runs `docker/demo.sh stop`, and so on for each line of docker/demos.txt.
$(DEMO_VERBS): demo-%:
	$(DEMO) $*

demo-numbers: .venv/installed ## The demos' ranges: ROUNDS rounds of them all back to back, measured from the logs
	$(PY) -m workshop.demo_numbers --compose "$(COMPOSE)" --rounds $(or $(ROUNDS),10)

bench: .venv/installed curator ## Failover, ZooKeeper-fault, cost and growth benchmark (about 40 min); publishes to bench/published
	$(PY) -m bench

soak: .venv/installed ## Ten minutes of random faults against the election, checked from the logs
	$(PY) -m soak --minutes 10

# -- the classroom: the live page, a pre-flight check, a reset. Each has a plain-Docker
# equivalent (docs/workshop.md), for a participant with Docker and nothing else.
.PHONY: preflight reset page dashboard-pictures

preflight: ## Check Docker, Compose, free ports, memory and images; each failure with its fix
	COMPOSE="$(COMPOSE)" sh docker/preflight.sh

reset: ## Put the stack back as new (down -v, then up -d), in well under a minute
	$(COMPOSE) down --volumes --remove-orphans --timeout 5
	$(COMPOSE) up -d --build
	@echo "Back as new: service1 leads. The page: http://127.0.0.1:$${DASHBOARD_PORT:-8080}/"

page: ## Print the live page's address (the dashboard service)
	@echo "http://127.0.0.1:$${DASHBOARD_PORT:-8080}/"

dashboard-pictures: .venv/installed ## Retake the page's pictures into docs/ (its browser tests, Compose v2)
	DASHBOARD_SHOTS=docs $(PY) -m pytest tests/e2e/test_page_in_browser.py -k v2 -p no:cacheprovider
