#!/usr/bin/env bash
# The main job, from a fresh checkout: set up, train the default SST-2 sentiment classifier
# (BiLSTM + attention over GloVe), evaluate it on the dev set, and label two sentences.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/datasets_env.sh
source .venv/bin/activate
textseq train configs/sst2_bilstm_attention.yaml --out runs/sst2 --overwrite
textseq evaluate runs/sst2 --data sst2:dev
textseq predict runs/sst2 --explain \
  "a gripping, beautifully acted film that stays with you" \
  "the plot is thin and the jokes fall flat"
