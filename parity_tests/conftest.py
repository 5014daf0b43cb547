"""Suite-wide settings: hypothesis without deadlines (MindSpore's first kernel calls are slow), the same
examples on every CI run (CI=true: derandomized, so a landing never depends on a lucky draw; developers'
runs explore new ones), torch on one thread, and MindSpore on the CPU in PyNative mode unless a test says
otherwise: every test starts in PyNative mode (training switches to graph mode in-process). The session caps
MindSpore's oneDNN (ms_erfnet/onednn.py) before any test runs a kernel, as the command line does."""
import os
import time

import mindspore as ms
import pytest
import torch
from hypothesis import HealthCheck, settings

from ms_erfnet.execution import free_finished_graphs
from ms_erfnet.onednn import cap_isa_where_it_helps

# The shared fixtures, asked for by argument name in any test folder (pytest reads pytest_plugins only here).
pytest_plugins = ["helpers.data_fixtures", "helpers.weight_fixtures", "helpers.msrun_runs"]

settings.register_profile("erfnet", deadline=None, max_examples=6, print_blob=True,
                          derandomize=os.environ.get("CI") == "true",
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("erfnet")
cap_isa_where_it_helps()
ms.set_device("CPU")
# The reference computes on one torch thread, as compare-training does: on 2 cores that two pytest workers and
# MindSpore share, torch's two threads wait for each other at every op of these small tensors.
torch.set_num_threads(1)
ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.fixture(autouse=True)
def pynative_mode():
    """Before and after every test: a session fixture set up for the next test runs before this fixture does, in
    whatever mode the test before left (graph mode failed the parity fixture of test_parity_on_your_files)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield
    ms.set_context(mode=ms.PYNATIVE_MODE)


@pytest.fixture(autouse=True)
def free_graphs_after_long_tests():
    """After a test of more than a second (one that built or compiled networks), the garbage it left is collected:
    left alive, it slows every later compile of the worker. A collection takes about 0.3 s, too long to pay after
    each of the hundreds of quick tests."""
    started = time.perf_counter()
    yield
    if time.perf_counter() - started > 1:
        free_finished_graphs()


# The test files that take longest (docs/testing.md has the measured list), longest first.
LONGEST_FILES = ("cli/test_msrun_jobs.py", "train/test_train_run.py", "parity/test_fault_catalogue.py",
                 "train/test_train_recipe.py", "train/test_own_data_training.py", "outcome/test_outcome_parity.py",
                 "parity/test_model_parity.py", "cli/test_any_image_size.py", "data/test_data_workers.py",
                 "cli/test_quiet_output.py", "parity/test_parity_on_your_files_runs.py")


def pytest_collection_modifyitems(items):
    """The longest test files run first. `make test` hands each of its two workers one module or class at a time
    in collection order (--dist loadscope --no-loadscope-reorder); xdist's own order, by the number of tests in a
    scope, put the one-test classes that train longest (a killed msrun worker, two hosts) last, and one worker ran
    them alone while the other had nothing left to do."""
    def rank(item):
        path = item.path.as_posix()
        return next((at for at, name in enumerate(LONGEST_FILES) if path.endswith(f"/{name}")), len(LONGEST_FILES))
    items.sort(key=rank)  # a stable sort: the order inside a file stays


def pytest_addoption(parser):
    """The parity tests on the user's own files (parity_tests/parity/test_parity_on_your_files.py, marker `parity`)."""
    group = parser.getgroup("erfnet parity", "the parity tests (-m parity) on your own weight files")
    group.addoption("--weights", metavar="FILE", default=None,
                    help="ERFNet weights (.pth/.pth.tar/.pt/.ckpt): both networks built from them, or with "
                         "--reference the MindSpore file checked against REF")
    group.addoption("--reference", metavar="REF", default=None,
                    help="the PyTorch file FILE must be faithful to (the two-file comparison of `erfnet parity`)")
    group.addoption("--size", metavar="HxW", default=None,
                    help="input height x width, multiples of 8 (default 16x32, where every gradient row is "
                         "usually decided); the batch is 2")
