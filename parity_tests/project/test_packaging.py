"""The package installs like one: every third-party module the code imports is a declared dependency, the
constraints file `make` installs with pins each of them inside its declared range, and a wheel built from the
tree and installed elsewhere finds its shipped configs and layer table from any working folder."""
import functools
import shutil
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from helpers.declared_dependencies import pins, requirements
from helpers.source_imports import absolute_imports

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = sorted(path.parent.name for path in ROOT.glob("*/__init__.py"))
TEST_FOLDERS = ("parity_tests", "bench")


def imported_modules(folders, root=ROOT):
    """{top-level module: first "<file>:<line>" importing it} for the third-party imports in `folders`."""
    local = set(PACKAGES) | set(TEST_FOLDERS) | {path.parent.name if path.stem == "__init__" else path.stem
                                                 for folder in folders for path in (root / folder).rglob("*.py")}
    found = {}
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            for line, name in absolute_imports(path):
                if name not in sys.stdlib_module_names and name not in local:
                    found.setdefault(name, f"{path.relative_to(root)}:{line}")
    return found


@functools.cache
def installed_distributions():
    return packages_distributions()


def undeclared(modules, declared):
    """"<module> (<where>): <distributions>" for every module whose distribution is not declared."""
    distributions = installed_distributions()
    problems = []
    for module, where in sorted(modules.items()):
        names = {canonicalize_name(name) for name in distributions.get(module, [module])}
        if not names & set(declared):
            problems.append(f"{module} ({where}): {', '.join(sorted(names))}")
    return problems


def test_every_imported_distribution_is_declared():
    assert undeclared(imported_modules(PACKAGES), requirements()) == []
    assert undeclared(imported_modules(TEST_FOLDERS), requirements() | requirements("test")) == []


def test_the_check_sees_an_undeclared_import(tmp_path):
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "plots.py").write_text("import json\nimport numpy\n\ndef f():\n    import scipy.stats\n")
    assert undeclared(imported_modules(["eval"], tmp_path), requirements()) == ["scipy (eval/plots.py:5): scipy"]


def test_the_constraints_pin_every_dependency_inside_its_range():
    pinned = pins()
    for name, requirement in (requirements() | requirements("test")).items():
        if requirement.marker and not requirement.marker.evaluate():
            continue
        assert name in pinned, f"constraints.txt does not pin {name}"
        assert requirement.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]}: not {requirement}"
    assert pinned["torch"] == "2.13.0", "the CPU build on this machine's disk; another version downloads a CUDA build"


@pytest.mark.slow
def test_an_installed_wheel_finds_its_configs_and_layer_table_from_another_folder(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "demo_out", "__pycache__", ".hypothesis", ".pytest_cache", "build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheels"), str(source)], check=True, capture_output=True)
    wheel, = (tmp_path / "wheels").glob("erfnet_parity-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PATH": str(Path(sys.executable).parent), "PYTHONPATH": str(site), "HOME": str(tmp_path)}
    probe = ("import facts.spec, train.config\n"
             "assert train.config.__file__.startswith(sys.argv[1]), train.config.__file__\n"
             "print(' '.join(train.config.shipped_configs()))\n"
             "print(train.config.read_config('learn').poly.epochs, len(facts.spec.layer_table().encoder_layers))\n")
    shown = subprocess.run([sys.executable, "-c", "import sys\n" + probe, str(site)], cwd=elsewhere, env=env,
                           capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    names, numbers = shown.stdout.splitlines()
    assert set(names.split()) >= {"cityscapes_4stage", "demo", "erfnet_pytorch", "erfnet_pytorch_imagenet", "learn",
                                  "smoke"}
    assert numbers == "120 15"
    command = subprocess.run([sys.executable, "-m", "erfnet.cli", "train", "--config", "learn", "--data", "none",
                              "--out", "run"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert (command.returncode, command.stderr) == (2, "erfnet train: error: none: no such data folder\n")
