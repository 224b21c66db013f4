# Sourced by the other scripts: use the offline datasets mirror beside the checkout when there
# is one and TEXTSEQ_DATASETS is not already set; otherwise textseq downloads into its cache.
if [ -z "${TEXTSEQ_DATASETS:-}" ] && [ -d ../shared/datasets ]; then
  TEXTSEQ_DATASETS="$(cd ../shared/datasets && pwd)"
  export TEXTSEQ_DATASETS
fi
