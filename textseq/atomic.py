"""Writing a file so that readers never see part of it: the one home for atomic writes."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_atomically(path: str | Path, write: Callable[[Path], Any], *, mode: int = 0o644) -> Path:
    """Calls `write(temporary)` for a temporary file beside `path`, then renames it to `path` in
    one step: a reader sees the old file or the new one, never a part of either. The file gets
    `mode` (a temporary file would otherwise keep 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
