"""`erfnet doctor`: what this machine gives the project (versions, device targets, msrun, the oneDNN cap, cache
space), and one line per problem that stops it.

`gather()` reads the machine into a `Machine`; `problems(machine)` judges it against facts/versions.yaml. The
two are apart so that tests can plant any machine without installing anything.
"""
import glob
import importlib
import importlib.util
import os
import platform
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from erfnet.msrun_path import msrun_path
from facts.cache import cache_folder
from facts.errors import first_line
from facts.versions import installed_version, supported, unsupported
from packaging.version import Version

LIBRARIES = ("mindspore", "torch", "numpy", "onnxruntime")
ASCEND_HOMES = ("ASCEND_HOME_PATH", "ASCEND_TOOLKIT_HOME")
ASCEND_DEFAULT = Path("/usr/local/Ascend/ascend-toolkit/latest")
FREE_SPACE_NEEDED = 1 << 30  # an exported model per input shape, a MindRecord cache of a small split


@dataclass
class Cache:
    path: Path
    writable: bool
    free_bytes: int


@dataclass
class Machine:
    python: str
    versions: dict  # {library: version or None when not installed}
    mindspore_loads: str | None  # None when `import mindspore` works, else its first error line
    plugins: tuple  # MindSpore's device plugins installed: "ascend", "gpu"
    cann: str | None  # Ascend's CANN version, None when not found
    ascend_cards: int
    cuda: str | None  # the NVIDIA driver's CUDA version, None when there is none
    msrun: str | None  # its path
    onednn: str
    caches: list = field(default_factory=list)  # of Cache


def mindspore_error():
    try:
        importlib.import_module("mindspore")
    except Exception as error:  # numpy 2's "_ARRAY_API not found", a missing shared library: any reason it fails
        return first_line(error)
    return None


def mindspore_plugins():
    spec = importlib.util.find_spec("mindspore")
    if spec is None or not spec.submodule_search_locations:
        return ()
    folder = Path(list(spec.submodule_search_locations)[0]) / "lib" / "plugin"
    return tuple(sorted({re.sub(r"[\d.]+$", "", path.name) for path in folder.glob("*") if path.is_dir()}))


def cann_version(environ=os.environ):
    """The CANN toolkit's version from its install record, None when no toolkit is found."""
    homes = [Path(environ[name]) for name in ASCEND_HOMES if environ.get(name)] + [ASCEND_DEFAULT]
    for home in homes:
        for record in sorted(glob.glob(str(home / "*" / "ascend_toolkit_install.info"))) + \
                sorted(glob.glob(str(home / "version.cfg"))):
            try:
                text = Path(record).read_text(errors="replace")
            except OSError:
                continue
            match = re.search(r"^\s*version\s*=\s*\[?([\w.]+)", text, re.MULTILINE | re.IGNORECASE)
            if match:
                return match.group(1)
    return None


def cuda_version():
    """The CUDA version the NVIDIA driver supports (nvidia-smi's header), None without a working driver."""
    if shutil.which("nvidia-smi") is None:
        return None
    import subprocess
    try:
        shown = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"CUDA Version:\s*([\d.]+)", shown)
    return match.group(1) if match else None


def onednn_state():
    import ms_erfnet.onednn as onednn
    chosen = [f"{name}={os.environ[name]}" for name in onednn.USER_SETTINGS if name in os.environ]
    if chosen:
        return f"set by you ({', '.join(chosen)})"
    if not onednn.cpu_has_avx512():
        return "no cap needed (no AVX-512 on this CPU)"
    return "capped at AVX2 on this AVX-512 CPU when ms_erfnet is imported (its convolutions are slow above it)"


def cache_state(path):
    existing = next(parent for parent in [path, *path.parents] if parent.exists())
    try:
        with tempfile.TemporaryFile(dir=existing):
            writable = True
    except OSError:
        writable = False
    return Cache(path, writable, shutil.disk_usage(existing).free)


def gather():
    loads = mindspore_error()
    return Machine(
        python=platform.python_version(), versions={name: installed_version(name) for name in LIBRARIES},
        mindspore_loads=loads, plugins=mindspore_plugins(), cann=cann_version(),
        ascend_cards=len(glob.glob("/dev/davinci[0-9]*")), cuda=cuda_version(), msrun=msrun_path(),
        onednn=onednn_state() if loads is None else "unknown (MindSpore does not load)",
        caches=[cache_state(cache_folder())])


def device_targets(machine):
    """The device targets MindSpore can use here, with what they rest on."""
    targets = ["CPU"]
    if "ascend" in machine.plugins and machine.ascend_cards and machine.cann:
        targets.append(f"Ascend ({machine.ascend_cards} cards, CANN {machine.cann})")
    if "gpu" in machine.plugins and machine.cuda:
        targets.append(f"GPU (CUDA {machine.cuda})")
    return targets


def problems(machine, versions=None):
    """One line per problem that stops the project here ([] when everything is usable)."""
    versions = versions or supported()
    mindspore, numpy = machine.versions.get("mindspore"), machine.versions.get("numpy")
    found = unsupported(machine.python, mindspore, versions)
    if not found and not versions.is_tested(machine.python, mindspore):
        tested = ", ".join(f"{m} on Python {p}" for p, m in versions.tested)
        found.append(f"MindSpore {mindspore} on Python {machine.python} is not in the tested matrix "
                     f"(tested: {tested}; docs/versions.md)")
    if numpy and mindspore and Version(numpy) >= Version(versions.numpy_below):
        found.append(f"numpy {numpy} beside MindSpore {mindspore}, which cannot load numpy "
                     f">={versions.numpy_below}: pip install 'numpy<{versions.numpy_below}'")
    if mindspore and machine.mindspore_loads:
        found.append(f"MindSpore {mindspore} does not load: {machine.mindspore_loads}")
    for library in ("torch", "onnxruntime"):
        if machine.versions.get(library) is None:
            found.append(f"{library} is not installed (pip install erfnet-parity installs it)")
    if machine.msrun is None:
        found.append("msrun not found on PATH: `--devices N` needs it (it comes with MindSpore)")
    for cache in machine.caches:
        if not cache.writable:
            found.append(f"cache folder {cache.path} is not writable (set XDG_CACHE_HOME to a writable folder)")
        elif cache.free_bytes < FREE_SPACE_NEEDED:
            found.append(f"cache folder {cache.path}: {cache.free_bytes / 2**20:.0f} MB free, below "
                         f"{FREE_SPACE_NEEDED >> 20} MB")
    return found


def report(machine, versions=None):
    """The lines `erfnet doctor` prints about `machine`, before its problems."""
    versions = versions or supported()
    tested = versions.is_tested(machine.python, machine.versions.get("mindspore") or "0")
    lines = [f"Python        {machine.python} (supported {versions.python})"]
    for library in LIBRARIES:
        note = f" (supported {versions.mindspore}; this pair {'is' if tested else 'is not'} in the tested matrix)" \
            if library == "mindspore" else ""
        lines.append(f"{library:<13} {machine.versions.get(library) or 'not installed'}{note}")
    lines += [f"devices       {', '.join(device_targets(machine))}",
              f"CANN          {machine.cann or 'not found'}; Ascend cards: {machine.ascend_cards}; "
              f"MindSpore plugins: {', '.join(machine.plugins) or 'none'}",
              f"CUDA          {machine.cuda or 'no NVIDIA driver'}",
              f"msrun         {machine.msrun or 'not found'}",
              f"oneDNN        {machine.onednn}"]
    for cache in machine.caches:
        lines.append(f"cache         {cache.path} ({'writable' if cache.writable else 'NOT writable'}, "
                     f"{cache.free_bytes / 2**30:.1f} GB free)")
    return lines


def add_arguments(parser):
    pass


def run(args):
    machine = gather()
    for line in report(machine):
        print(line)
    found = problems(machine)
    for line in found:
        print(f"problem: {line}")
    print("usable" if not found else f"{len(found)} problem{'s' if len(found) > 1 else ''}")
    return 1 if found else 0
