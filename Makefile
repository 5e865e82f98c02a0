# `make run`  — set up everything and start the service on http://127.0.0.1:8080
# `make test` — set up everything and run the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test setup system services lint typecheck unit bench clean

run: setup
	$(BIN)/mediavault serve --host 127.0.0.1 --port 8080

test: setup services lint typecheck unit

setup: system $(STAMP)

# Debian packages: ffmpeg (post-processing, fixtures), aria2 and curl (benchmarks),
# chromium (TikTok browser strategy, dashboard tests).
system:
	@missing=""; \
	command -v ffmpeg >/dev/null || missing="$$missing ffmpeg"; \
	command -v aria2c >/dev/null || missing="$$missing aria2"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# PostgreSQL and Redis run on this machine; start them if they are down.
services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start
	@redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
	@for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && exit 0; sleep 1; done; echo "PostgreSQL/Redis did not come up"; exit 1

lint:
	$(BIN)/ruff check src tests benchmarks

typecheck:
	$(BIN)/mypy

unit:
	MEDIAVAULT_ALLOWED_HOSTS=127.0.0.1,localhost,::1 $(BIN)/pytest -q -p no:cacheprovider

bench: setup
	$(BIN)/python benchmarks/transfer.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
