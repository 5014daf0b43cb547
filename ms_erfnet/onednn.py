"""Keeps MindSpore's CPU convolutions fast on AVX-512 machines.

MindSpore 2.10 bundles oneDNN, which on some AVX-512 CPUs picks a reference convolution kernel
(`jit_uni_ncsp:conv+ref`): ERFNet's forward at 512x1024 takes 48 s instead of 0.67 s. Capping that oneDNN at
AVX2 selects its jit GEMM kernels. The cap is set through oneDNN's own API on MindSpore's copy of the
library, not through the environment, so PyTorch's oneDNN in the same process keeps its full ISA. Nothing does
this on import: the entry points (erfnet.cli.main, the test session's conftest, the benchmarks) call
`cap_isa_where_it_helps` before MindSpore runs its first kernel.
"""
import ctypes
import functools
import os
import warnings
from pathlib import Path

USER_SETTINGS = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")
DNNL_CPU_ISA_AVX2 = 0x7


def cpu_has_avx512(cpuinfo=Path("/proc/cpuinfo")):
    try:
        flags = next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return False
    return "avx512f" in flags.split()


def mindspore_onednn():
    import mindspore
    found = sorted((Path(mindspore.__file__).parent / "lib").glob("libdnnl.so*"))
    return ctypes.CDLL(str(found[0])) if found else None


@functools.cache
def cap_isa_where_it_helps():
    """Cap MindSpore's oneDNN at AVX2 on AVX-512 CPUs unless the user set the ISA themselves.

    Returns True when the cap was applied. Must run before MindSpore executes its first convolution; later calls
    (the demo runs several commands in one process) return the first call's answer.
    """
    if any(name in os.environ for name in USER_SETTINGS) or not cpu_has_avx512():
        return False
    library = mindspore_onednn()
    if library is None:
        return False
    if library.dnnl_set_max_cpu_isa(DNNL_CPU_ISA_AVX2) != 0:
        warnings.warn("MindSpore ran a CPU kernel before ms_erfnet.onednn.cap_isa_where_it_helps(); convolutions "
                      "may be up to 80x slower. Call it first, or set ONEDNN_MAX_CPU_ISA=AVX2.", stacklevel=2)
        return False
    return True
