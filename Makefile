# FeedForward. A newcomer needs two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chromium clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade 'pip<26.3'
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Browser tests use Debian's chromium (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: $(STAMP)
	$(if $(SITE_PORT),FF_SITE_PORT=$(SITE_PORT)) $(if $(API_PORT),FF_API_PORT=$(API_PORT)) \
	$(if $(MAIL_PORT),FF_MAIL_PORT=$(MAIL_PORT)) $(if $(AWS_PORT),FF_AWS_PORT=$(AWS_PORT)) $(BIN)/python -m local.run

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf $(VENV) .pytest_cache
