"""Folders and files in the states users' files get into, for the reliability tests."""
import contextlib
import os
import shutil
import subprocess

import pytest


@contextlib.contextmanager
def read_only(folder):
    """`folder` made unwritable for the duration: chmod 0o500, and `chattr +i` as root (who ignores modes)."""
    os.chmod(folder, 0o500)
    immutable = os.geteuid() == 0
    if immutable and (shutil.which("chattr") is None
                      or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0):
        os.chmod(folder, 0o700)
        pytest.skip("running as root without chattr: a read-only folder cannot be made")
    try:
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        os.chmod(folder, 0o700)
