"""The layout is the architecture: each package imports only packages of lower layers (README "Layout"), no file
imports itself back through others (a file-level import cycle), and only the command line (erfnet/) prints:
library code reports through `logging`. Read from the source with ast, so an import inside a function counts as
much as one at the top. (That the PyTorch reference imports nothing of this project at all is
test_torch_ref.py's check.)"""
import ast
from pathlib import Path

import pytest

from helpers.source_imports import absolute_imports, imported_files

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (("facts",), ("ms_erfnet", "torch_ref"), ("convert",), ("parity",), ("data",), ("eval",), ("train",),
          ("outcome",), ("erfnet",))
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


def import_cycles():
    """Every file-level import cycle among the packages' files, as "a.py -> b.py -> a.py" (one per cycle found
    by a depth-first walk; imports inside functions count)."""
    files = sorted(path for package in RANK for path in (ROOT / package).rglob("*.py"))
    edges = {path: sorted({target for _, target in imported_files(path, ROOT) if target != path}) for path in files}
    cycles, state, trail = [], {}, []

    def visit(path):
        state[path] = "open"
        trail.append(path)
        for target in edges.get(path, []):
            if state.get(target) == "open":
                loop = trail[trail.index(target):] + [target]
                cycles.append(" -> ".join(str(step.relative_to(ROOT)) for step in loop))
            elif target not in state:
                visit(target)
        trail.pop()
        state[path] = "done"

    for path in files:
        if path not in state:
            visit(path)
    return cycles


def test_no_file_imports_itself_through_others():
    assert import_cycles() == []


def test_the_check_sees_a_file_cycle(tmp_path, monkeypatch):
    (tmp_path / "convert").mkdir()
    (tmp_path / "convert" / "__init__.py").write_text("from convert.api import read\n")
    (tmp_path / "convert" / "api.py").write_text("def read():\n    from convert.realign import moved\n")
    (tmp_path / "convert" / "realign.py").write_text("from convert import network\n")
    (tmp_path / "convert" / "network.py").write_text("from convert.api import read\n")
    (tmp_path / "convert" / "names.py").write_text("import convert.api\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert import_cycles() == ["convert/api.py -> convert/realign.py -> convert/network.py -> convert/api.py"]


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
