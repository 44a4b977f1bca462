# Two commands on a fresh clone: `make run` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
STAMPS := .stamps
MODEL := models/assistant.tar.gz
TRAIN_INPUTS := config.yml domain.yml $(shell find data -name '*.yml' 2>/dev/null) $(shell find bot/nlu -name '*.py' 2>/dev/null)

.PHONY: setup train run test eval db browser-deps clean

setup: $(STAMPS)/venv $(STAMPS)/web

# Reinstalls only when a requirements file changed.
$(STAMPS)/venv: requirements.txt requirements-dev.txt constraints.txt scripts/find_python.sh
	@mkdir -p $(STAMPS)
	@if [ ! -x $(PY) ]; then PYTHON=$$(scripts/find_python.sh) && $$PYTHON -m venv $(VENV); fi
	$(PY) -m pip install --quiet --upgrade pip==24.2
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

# Widget dependencies (socket.io client, pinned in web/package-lock.json) come from the npm registry
# at setup time only; the browser bundle is served by us from web/vendor/.
$(STAMPS)/web: web/package.json web/package-lock.json
	@mkdir -p $(STAMPS) web/vendor
	npm ci --no-audit --no-fund --prefix web
	cp web/node_modules/socket.io-client/dist/socket.io.min.js web/vendor/
	@touch $@

db: setup
	$(PY) -m bot db upgrade

# Retrains only when training data, domain, config or our NLU components changed.
train: $(MODEL)
$(MODEL): $(STAMPS)/venv $(TRAIN_INPUTS)
	$(RASA) train --fixed-model-name assistant --out models --quiet
	@touch $@

run: setup train
	$(PY) -m bot run

eval: setup train
	$(PY) scripts/eval_nlu.py --model $(MODEL)

# Debian's chromium for the browser tests (never a downloaded browser).
browser-deps:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y --no-install-recommends chromium || { apt-get update && apt-get install -y --no-install-recommends chromium; }; \
	  else echo "Install Debian's chromium: sudo apt-get install chromium"; exit 1; fi; }

test: setup train browser-deps
	$(PY) -m pytest
	$(PY) scripts/eval_nlu.py --model $(MODEL) --min-accuracy 0.97

clean:
	rm -rf $(STAMPS) models/*.tar.gz .pytest_cache results
