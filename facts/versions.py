"""The supported Python and MindSpore releases and the tested pairs (facts/versions.yaml), compared as versions
(packaging.version: as strings "2.10.0" < "2.7.1")."""
import functools
import importlib.metadata
from dataclasses import dataclass
from importlib import resources

import yaml
from packaging.version import Version


@dataclass(frozen=True)
class Range:
    """Releases from `oldest` (included) up to `below` (excluded)."""
    oldest: str
    below: str

    def __contains__(self, version):
        return Version(self.oldest) <= Version(version) < Version(self.below)

    def __str__(self):
        return f">={self.oldest},<{self.below}"


@dataclass(frozen=True)
class Versions:
    python: Range
    mindspore: Range
    releases: dict  # {python "3.11": (MindSpore releases on the package index, oldest first)}
    numpy_below: str
    tested: tuple  # of (python "3.11", mindspore "2.10.0")

    def is_tested(self, python, mindspore):
        """Whether the matrix passed on this Python (any micro release) with this MindSpore release."""
        minor = ".".join(str(python).split(".")[:2])
        return any(Version(minor) == Version(p) and Version(mindspore) == Version(m) for p, m in self.tested)


def installed_version(distribution):
    """The installed version of `distribution` from its package metadata (nothing is imported), None without it."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.cache
def supported():
    raw = yaml.safe_load(resources.files("facts").joinpath("versions.yaml").read_text())
    return Versions(python=Range(**raw["python"]), mindspore=Range(**raw["mindspore"]),
                    releases={python: tuple(found) for python, found in raw["releases"].items()}, numpy_below=raw["numpy_below"],
                    tested=tuple((pair["python"], pair["mindspore"]) for pair in raw["tested"]))


def unsupported(python, mindspore, versions=None):
    """One line per release outside the supported range ("" none): `python` as "3.11.7", `mindspore` a version
    string or None when it is not installed."""
    versions = versions or supported()
    problems = []
    if python not in versions.python:
        problems.append(f"Python {python} is not supported (supported: Python {versions.python})")
    if mindspore is None:
        problems.append(f"MindSpore is not installed (supported: mindspore{versions.mindspore})")
    elif mindspore not in versions.mindspore:
        problems.append(f"MindSpore {mindspore} is not supported (supported: mindspore{versions.mindspore})")
    return problems
