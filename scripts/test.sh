#!/usr/bin/env bash
# Sets up (see setup.sh) and runs the checks: ruff lint, ruff format, the import-linter
# contracts of pyproject.toml (the package's layers), and the test suite on two processes.
# Data tests use the datasets mirror beside the checkout when present.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/datasets_env.sh
source .venv/bin/activate
ruff check .
ruff format --check .
lint-imports
python -m pytest -n 2 -q "$@"
