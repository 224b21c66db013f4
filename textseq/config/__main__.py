"""`python -m textseq.config > docs/configuration.md`: the configuration reference."""

import sys

from textseq.config.docs import render_docs

sys.stdout.write(render_docs())
