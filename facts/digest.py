"""Fingerprints: of named arrays (weights), shared by training (ranks in step) and the ONNX export cache; and of a
file's bytes, which the cache keeps beside each export to know it intact."""
import hashlib
from pathlib import Path

import numpy as np


def arrays_digest(arrays, salt=""):
    """sha256 of named arrays ({name: array}) in name order, after `salt`: equal for equal names and bytes."""
    digest = hashlib.sha256(salt.encode())
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]).tobytes())
    return digest.hexdigest()


def file_digest(path):
    """sha256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
