import sys

from textseq.cli import main

sys.exit(main())
