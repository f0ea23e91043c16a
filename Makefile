# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make demo   -- runs the project's main job (nllkit compare on the embedded default data)
#   make test   -- lint, type-check, and the whole test suite (doctests included)
# Both create and reuse .venv; constraints.txt pins the CPU build torch==2.13.0.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	# test-only peer: its package imports timm/torchvision, so only its losses are used (tests/_peers.py)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -c constraints.txt segmentation-models-pytorch
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nllkit compare

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 --durations=10

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_cross_entropy.py
	$(BIN)/python benchmarks/bench_threshold.py
	$(BIN)/python benchmarks/bench_overlap.py
	$(BIN)/python benchmarks/bench_focal.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
