"""The layout is the architecture: each package imports only packages of lower layers (README "Layout"), and
only the command line (erfnet/) prints: library code reports through `logging`. Read from the source with ast,
so an import inside a function counts as much as one at the top. (That the PyTorch reference imports nothing
of this project at all is test_torch_ref.py's check.)"""
import ast
from pathlib import Path

import pytest

from source_imports import absolute_imports

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (("facts",), ("ms_erfnet", "torch_ref"), ("convert",), ("data",), ("eval",), ("train",), ("parity",),
          ("erfnet",))
RANK = {package: rank for rank, packages in enumerate(LAYERS) for package in packages}
COMMAND_LINE = "erfnet"


def project_imports(path):
    """(line, imported project package) for every import in the file."""
    return [(line, name) for line, name in absolute_imports(path) if name in RANK]


def violations(package):
    problems = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, imported in project_imports(path):
            if imported == package:
                continue
            if RANK[imported] >= RANK[package]:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return problems


@pytest.mark.parametrize("package", list(RANK))
def test_imports_point_down_the_layers(package):
    assert violations(package) == []


def test_the_check_sees_an_import_that_points_up(tmp_path, monkeypatch):
    planted = tmp_path / "facts"
    planted.mkdir()
    (planted / "wrong.py").write_text("def f():\n    from train.config import read_config\n")
    (tmp_path / "convert").mkdir()
    (tmp_path / "convert" / "side.py").write_text("import ms_erfnet\nfrom torch_ref import Net\nimport data.cache\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert violations("facts") == ["facts/wrong.py:2 imports train"]
    assert violations("convert") == ["convert/side.py:3 imports data"]


def test_every_package_has_a_layer():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")}
    assert packages == set(RANK)


def print_calls(package):
    """"<file>:<line>" of every call of print in the package."""
    return [f"{path.relative_to(ROOT)}:{node.lineno}" for path in sorted((ROOT / package).rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"]


@pytest.mark.parametrize("package", [package for package in RANK if package != COMMAND_LINE])
def test_library_code_does_not_print(package):
    assert print_calls(package) == []


def test_the_print_check_sees_a_print(tmp_path, monkeypatch):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "chatty.py").write_text("import logging\n\ndef f(x):\n    logging.info(x)\n    print(x)\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert print_calls("eval") == ["eval/chatty.py:5"]
