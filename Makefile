# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
CONFIG ?= config.yaml
PROFILE ?= profiles/default

.PHONY: run test bench lint clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[dev,slurm]'
	# Quantus: a test-only reference; its requirements would add opencv-python beside grad-cam's headless one
	$(BIN)/pip install --quiet --no-deps quantus==0.6.0
	touch $@

run: $(BIN)/.installed
	$(BIN)/snakemake --profile $(PROFILE) --configfile $(CONFIG)
	$(BIN)/snakemake --profile $(PROFILE) --configfile $(CONFIG) --report results/report.html
	@echo "Results: results/ (figures in results/figures, similarity matrices in results/similarity); report: results/report.html"

test: $(BIN)/.installed
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py

lint: $(BIN)/.installed
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile rules/
	$(BIN)/ruff check xaisim scripts tests bench

clean:
	rm -rf results .snakemake
