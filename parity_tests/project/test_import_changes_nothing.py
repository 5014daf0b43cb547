"""Importing the project changes nothing in the process: a fresh process imports every module of every package
and finds its environment as it was and MindSpore's oneDNN ISA still open (the cap of ms_erfnet/onednn.py is
the entry points' explicit call, never an import's side effect)."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import importlib, json, os, sys
import mindspore, numpy, torch  # third-party libraries first: what they do on import is theirs
before = dict(os.environ)
for name in sys.argv[1:]:
    importlib.import_module(name)
changed = sorted(key for key in set(before) | set(os.environ) if before.get(key) != os.environ.get(key))
from ms_erfnet.onednn import DNNL_CPU_ISA_AVX2, mindspore_onednn
library = mindspore_onednn()
# oneDNN accepts a maximum ISA only while it has not fixed one (no kernel has run, no earlier cap)
print(json.dumps({"environment": changed, "onednn": library is not None,
                  "isa_open": library is not None and library.dnnl_set_max_cpu_isa(DNNL_CPU_ISA_AVX2) == 0}))
"""


def project_modules(root=ROOT):
    """Every module of the packages at `root` (folders with an __init__.py), as import names."""
    modules = []
    for init in sorted(root.glob("*/__init__.py")):
        for path in sorted(init.parent.rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def import_changes(modules, path=ROOT):
    """What importing `modules` (found on `path`) in a fresh process changed: {environment, onednn, isa_open}."""
    env = {key: value for key, value in os.environ.items() if key not in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")}
    env["PYTHONPATH"] = os.pathsep.join([str(path), str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", PROBE, *modules], cwd=path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_every_module_changes_nothing():
    modules = project_modules()
    assert {"ms_erfnet", "ms_erfnet.model", "convert.network", "train.stage", "eval.evaluate", "erfnet.cli"} <= \
        set(modules)
    assert import_changes(modules) == {"environment": [], "onednn": True, "isa_open": True}


def test_the_probe_sees_a_changed_environment_and_a_fixed_isa(tmp_path):
    planted = tmp_path / "planted"
    planted.mkdir()
    (planted / "__init__.py").write_text("")
    (planted / "environment.py").write_text("import os\nos.environ['ERFNET_PLANTED'] = '1'\n")
    (planted / "isa.py").write_text("from ms_erfnet.onednn import mindspore_onednn\n"
                                    "mindspore_onednn().dnnl_set_max_cpu_isa(0x7)\n")
    assert project_modules(tmp_path) == ["planted", "planted.environment", "planted.isa"]
    assert import_changes(["planted.environment", "planted.isa"], tmp_path) == \
        {"environment": ["ERFNET_PLANTED"], "onednn": True, "isa_open": False}
