"""Where MindSpore's msrun launcher is: beside this Python (its venv's bin, which need not be on PATH), else on PATH."""
import shutil
import sys
from pathlib import Path


def msrun_path():
    return shutil.which("msrun", path=str(Path(sys.executable).parent)) or shutil.which("msrun")
