# Shotgraph: `make run` starts the whole platform, `make test` runs everything that must pass.
# Every target bootstraps what it needs (venv, PyPI packages, generated gRPC code, system tools)
# and does nothing when that is already in place.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps
PROTOS := $(wildcard proto/shotgraph/*/v1/*.proto)
# What PyPI does not ship: OpenSCAD renders, Xvfb gives it a display (and WebKitGTK's browser
# tests theirs), bubblewrap sandboxes it, MCAD is the library models `use`, Chromium, Firefox ESR
# and WebKitGTK's WebDriver run the browser tests; ffmpeg (video) and promtool (Debian's
# prometheus package ships it: `promtool check rules`) are there for the checks that use them.
# Each entry is
# <file or command that shows it>:<package>.
SYSTEM_PACKAGES := openscad:openscad xvfb-run:xvfb Xvfb:xvfb xauth:xauth bwrap:bubblewrap \
	/usr/share/openscad/libraries/MCAD:openscad-mcad node:nodejs npm:npm chromium:chromium \
	firefox-esr:firefox-esr /usr/bin/WebKitWebDriver:webkit2gtk-driver ffmpeg:ffmpeg \
	promtool:prometheus
# The Khronos glTF validator (from npm) checks every GLB the render tests produce.
GLTF_VALIDATOR := .tools/node_modules/gltf-validator/package.json
# web/'s npm packages, from its lockfile: what builds and checks the studio and its event types.
WEB_DEPS := web/node_modules/.package-lock.json
# The studio the gateway serves at /: built again when anything it is made from is newer.
WEB_DIST := web/dist/index.html
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/vite.config.ts web/tsconfig.json web/package.json web/package-lock.json

.PHONY: run test test-fast lint fmt proto contracts bootstrap system-deps typecheck clean web web-check

run: bootstrap web
	$(PY) -m services

test: bootstrap web web-check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy libs services
	$(PY) -m pytest --durations=25

web: $(WEB_DIST)

# `npm ci` (through $(WEB_DEPS)) when the lockfile changed, then the production build.
$(WEB_DIST): $(WEB_DEPS) $(WEB_SOURCES)
	npm run --prefix web build
	@touch $@

# The studio's own checks: ESLint, strict TypeScript and the Vitest unit tests.
web-check: $(WEB_DEPS)
	npm run --prefix web lint
	npm run --prefix web typecheck
	cd web && npx vitest run

# The quick loop: everything but the end-to-end tests (which start the whole platform).
test-fast: bootstrap web
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy libs services
	$(PY) -m pytest -m "not e2e"

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: bootstrap
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: bootstrap
	$(VENV)/bin/mypy libs services

proto: $(STAMPS)/proto

# The bus contract, made from libs/bus: the AsyncAPI document and the studio's event types.
contracts: bootstrap
	$(PY) -m services.contract asyncapi > proto/asyncapi.yaml.new
	$(PY) -m services.contract user-events-schema | node web/scripts/event-types.mjs \
	  > web/src/api/events.ts.new
	mv proto/asyncapi.yaml.new proto/asyncapi.yaml
	mv web/src/api/events.ts.new web/src/api/events.ts

bootstrap: system-deps $(STAMPS)/deps $(STAMPS)/proto $(GLTF_VALIDATOR) $(WEB_DEPS)

system-deps:
	@missing=""; for pair in $(SYSTEM_PACKAGES); do \
	  what="$${pair%%:*}"; \
	  { [ -e "$$what" ] || command -v "$$what" >/dev/null; } || missing="$$missing $${pair##*:}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages:$$missing"; \
	  sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(PY):
	$(PYTHON) -m venv $(VENV)

# Dependencies come from pyproject.toml alone; the project itself runs from this checkout.
$(STAMPS)/deps: pyproject.toml | $(PY)
	@mkdir -p $(STAMPS)
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
	  print("\n".join(p["dependencies"] + p["optional-dependencies"]["dev"]))' > $(STAMPS)/requirements.txt
	$(PY) -m pip install -q --disable-pip-version-check -r $(STAMPS)/requirements.txt
	printf '%s\n%s\n' "$(CURDIR)" "$(CURDIR)/gen" > "$$($(PY) -c 'import site; print(site.getsitepackages()[0])')/shotgraph.pth"
	@touch $@

$(STAMPS)/proto: $(PROTOS) $(STAMPS)/deps
	rm -rf gen && mkdir -p gen
	$(PY) -m grpc_tools.protoc -Iproto --python_out=gen --pyi_out=gen --grpc_python_out=gen $(PROTOS)
	@touch $@

$(GLTF_VALIDATOR):
	npm install --prefix .tools --no-save --no-audit --no-fund gltf-validator@2.0.0-dev.3.10

$(WEB_DEPS): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	@touch $@

clean:
	rm -rf $(VENV) gen .devstack .tools web/node_modules web/dist
