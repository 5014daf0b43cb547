"""Where this project caches files it can make again."""
import os
from pathlib import Path


def cache_folder():
    """Where exported models are cached: $XDG_CACHE_HOME/erfnet/onnx, else ~/.cache/erfnet/onnx."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(base) if os.path.isabs(base) else Path.home() / ".cache") / "erfnet" / "onnx"
