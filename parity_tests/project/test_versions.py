"""The supported releases live in facts/versions.yaml: pyproject.toml's ranges say the same, versions compare as
versions, and an unsupported Python or MindSpore is one line at the command line's start, before any command."""
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import erfnet.cli
from erfnet.cli import main
from facts.versions import Range, supported, unsupported
from helpers.declared_dependencies import PYPROJECT, pins, requirements


def test_pyproject_declares_the_supported_ranges():
    versions = supported()
    assert SpecifierSet(PYPROJECT["project"]["requires-python"]) == SpecifierSet(str(versions.python))
    assert requirements()["mindspore"].specifier == SpecifierSet(str(versions.mindspore))


def test_every_listed_release_and_the_constraints_set_are_inside_the_range():
    versions = supported()
    assert set(versions.releases) == {f"3.{minor}" for minor in (10, 11, 12)}
    for python, releases in versions.releases.items():
        assert python in versions.python and all(release in versions.mindspore for release in releases)
    assert versions.is_tested("3.11.7", pins()["mindspore"]), "the constraints set is a tested pair"
    assert all(m in versions.releases[p] for p, m in versions.tested)


def test_numpy_is_held_below_what_mindspore_can_load():
    assert Requirement(f"numpy<{supported().numpy_below}").specifier.contains(pins()["numpy"])
    assert f"<{supported().numpy_below}" in {str(one) for one in requirements()["numpy"].specifier}


@pytest.mark.parametrize("version, inside", [("2.7.1", True), ("2.10.0", True), ("2.10.3", True), ("2.7.0", False),
                                             ("2.11.0", False), ("2.6.0", False), ("2.10.0rc1", True)])
def test_a_range_compares_versions_not_strings(version, inside):
    assert (version in Range("2.7.1", "2.11")) is inside


def test_an_unsupported_release_is_named_with_the_supported_range():
    assert unsupported("3.11.7", "2.10.0") == []
    assert unsupported("3.9.18", "2.6.0") == [
        "Python 3.9.18 is not supported (supported: Python >=3.10,<3.13)",
        "MindSpore 2.6.0 is not supported (supported: mindspore>=2.7.1,<2.11)"]
    assert unsupported("3.12.1", None) == ["MindSpore is not installed (supported: mindspore>=2.7.1,<2.11)"]


@pytest.mark.parametrize("python, mindspore, shown", [
    ("3.11.7", "2.6.0", "MindSpore 2.6.0 is not supported (supported: mindspore>=2.7.1,<2.11)"),
    ("3.13.0", "2.10.0", "Python 3.13.0 is not supported (supported: Python >=3.10,<3.13)"),
])
def test_the_command_line_stops_in_one_line_before_any_command(monkeypatch, capsys, python, mindspore, shown):
    monkeypatch.setattr(erfnet.cli.platform, "python_version", lambda: python)
    monkeypatch.setattr(erfnet.cli, "installed_version", lambda name: mindspore)
    assert main(["convert", "a.pth", "b.ckpt"]) == 2
    stderr = capsys.readouterr().err
    assert stderr == f"erfnet convert: error: {shown}. Run `erfnet doctor` for details.\n"
