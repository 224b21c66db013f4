"""The version of textseq (one home, read by the package, the manifest and the CLI)."""

__version__ = "0.1.0"
