# Shotgraph: `make run` starts the whole platform, `make test` runs everything that must pass.
# Every target bootstraps what it needs (venv, PyPI packages, generated gRPC code, system tools)
# and does nothing when that is already in place.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps
PROTOS := $(wildcard proto/shotgraph/*/v1/*.proto)
# What PyPI does not ship: OpenSCAD renders, Xvfb gives it a display, bubblewrap sandboxes it,
# MCAD is the library models `use`. Each entry is <file or command that shows it>:<package>.
SYSTEM_PACKAGES := openscad:openscad xvfb-run:xvfb xauth:xauth bwrap:bubblewrap \
	/usr/share/openscad/libraries/MCAD:openscad-mcad node:nodejs npm:npm
# The Khronos glTF validator (from npm) checks every GLB the render tests produce.
GLTF_VALIDATOR := .tools/node_modules/gltf-validator/package.json

.PHONY: run test lint fmt proto bootstrap system-deps typecheck clean

run: bootstrap
	$(PY) -m services

test: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy libs services
	$(PY) -m pytest

lint: bootstrap
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

fmt: bootstrap
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

typecheck: bootstrap
	$(VENV)/bin/mypy libs services

proto: $(STAMPS)/proto

bootstrap: system-deps $(STAMPS)/deps $(STAMPS)/proto $(GLTF_VALIDATOR)

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

clean:
	rm -rf $(VENV) gen .devstack .tools
