"""Atomic file output: write to a temporary file beside the target, then rename over it; and the checks around
it that keep a user's files safe (a destination that is the source, or an existing file not ours to replace).

A temporary is named `.<target name>.<8 random characters>.tmp<target suffix>` (MindSpore appends `.ckpt` to names
that lack it, and writes its own temporary with `.ckpt` replaced by `.tmp` first, so a killed MindSpore write
leaves `....tmp.tmp`).
`remove_leftovers` deletes exactly such names, what an interrupted write of this project left, nothing else.
"""
import contextlib
import os
import re
import tempfile
from pathlib import Path

from facts.errors import UserError

LEFTOVER = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[A-Za-z0-9]+)?(\.tmp)?$")


def _cannot_write(target, error):
    return UserError(f"{target}: cannot write here ({error.strerror or error.__class__.__name__})")


@contextlib.contextmanager
def atomic_output(target):
    """Yield a temporary path in the target's folder; on success it is renamed to `target`.

    On any exception the temporary file is removed and `target` is left as it was. A folder that cannot be made
    or written, or a target that is a folder, is a UserError naming the target.
    """
    target = Path(target)
    if target.is_dir():
        raise UserError(f"{target}: is a folder; give a file name")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix,
                                             dir=target.parent)
    except OSError as error:
        raise _cannot_write(target, error) from None
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, target)
    except OSError as error:
        raise _cannot_write(target, error) from None
    finally:
        for leftover in (Path(temporary), Path(temporary).with_suffix(".tmp")):
            leftover.unlink(missing_ok=True)


def check_destination(target, sources=(), force=False):
    """Refuse to write `target` over one of `sources` (the same file by path, symlink or hard link), and over an
    existing file unless `force`. UserError naming the file."""
    target = Path(target)
    for source in sources:
        if target.exists() and Path(source).exists() and os.path.samefile(target, source):
            raise UserError(f"{target}: is the source file {source}; write to another file")
    if target.is_dir():
        raise UserError(f"{target}: is a folder; give a file name")
    if target.exists() and not force:
        raise UserError(f"{target}: exists; pass --force to replace it")


def is_temporary(path):
    """True for the name of a temporary of atomic_output (or MindSpore's own beside it): never a user's file."""
    return LEFTOVER.match(Path(path).name) is not None


def check_folder_writable(folder):
    """UserError naming `folder` unless files can be written in it once it is made: it must not be a file, and it
    (or, when it does not exist yet, its nearest existing parent folder) must take a new file. Creates nothing,
    so a command refused for another reason leaves no empty folder behind."""
    folder = Path(folder)
    existing = next(path for path in (folder, *folder.parents) if path.exists() or path == path.parent)
    if not existing.is_dir():
        raise UserError(f"{folder}: {'is a file' if existing == folder else f'{existing} is a file'}; give a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise _cannot_write(folder, error) from None
    return folder


def remove_leftovers(folder):
    """Delete the temporaries an interrupted atomic_output left directly in `folder`; returns their paths."""
    folder = Path(folder)
    removed = [path for path in folder.iterdir() if path.is_file() and is_temporary(path)] \
        if folder.is_dir() else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed
