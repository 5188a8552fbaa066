# Two commands: `make demo` and `make test`. Each creates .venv (pinned by requirements.lock) when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: demo test lint install lock clean-demo

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m scripts.demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

lock: $(STAMP)
	$(PY) -m pip freeze --all --exclude-editable | grep -v "^pip==" | sed '1i # Exact versions resolved on Python 3.11 / x86_64 (torch 2.14.1 + torchvision 0.29.1). Regenerate with `make lock`.' > requirements.lock.new && mv requirements.lock.new requirements.lock

clean-demo:
	rm -rf demo_results
