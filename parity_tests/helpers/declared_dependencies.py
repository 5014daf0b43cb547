"""What the project declares it needs, read from pyproject.toml and constraints.txt: shared by the packaging and
versions tests."""
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirements(extra=None):
    """{canonical distribution name: Requirement} of the project's dependencies (or of one extra)."""
    listed = PYPROJECT["project"]["optional-dependencies"][extra] if extra else PYPROJECT["project"]["dependencies"]
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, listed)}


def pins():
    """{canonical name: version} of constraints.txt."""
    lines = (line.split("#")[0].strip() for line in (ROOT / "constraints.txt").read_text().splitlines())
    return {canonicalize_name(name): version for name, _, version in (line.partition("==") for line in lines if line)}
