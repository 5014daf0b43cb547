"""Sums and shared weights across the workers of an msrun job (mindspore.ops.communication), so that scores
computed on several devices equal the scores of one.

Measured with MindSpore 2.10's CPU collectives (two msrun workers): the in-place AllReduce sums int32, int64
(exactly, at 2^41) and float32, and fails on float64 ("AllReduce failed"); broadcast works for float32. So
counts travel as int64 (a cell of a full Cityscapes confusion matrix can reach 500 images x 2 Mpx, half of
int32's range), and float64 values as their int64 bit patterns, one row per worker, added in rank order on every
worker.
"""
import mindspore as ms
import numpy as np
from mindspore.ops.communication import all_reduce, broadcast


def sum_int64(array):
    """The element-wise sum of the integer `array` over all workers, exact, as int64 (the same on every one)."""
    tensor = ms.Tensor(np.ascontiguousarray(array, dtype=np.int64))
    all_reduce(tensor)  # in place, MindSpore's default for its communication functions
    return tensor.asnumpy()


def sum_float64(values, devices):
    """The sum over all workers of the float64 `values` (one per position): every worker's values arrive bit for
    bit and are added in rank order, so every worker gets the same sums. `devices`: this worker's Devices."""
    rows = np.zeros((devices.size, len(values)), np.int64)
    rows[devices.rank] = np.asarray(values, np.float64).view(np.int64)
    return sum_int64(rows).view(np.float64).sum(axis=0)


def broadcast_parameters(parameters, root=0):
    """Give every worker `root`'s values of `parameters` (the same list of MindSpore Parameters on every worker),
    in one broadcast per dtype."""
    groups = {}
    for parameter in parameters:
        groups.setdefault(parameter.dtype, []).append(parameter)
    for group in groups.values():
        arrays = [parameter.asnumpy() for parameter in group]
        flat = ms.Tensor(np.concatenate([array.ravel() for array in arrays]))
        broadcast(flat, root)
        values = flat.asnumpy()
        offsets = np.cumsum([0] + [array.size for array in arrays])
        for parameter, array, offset in zip(group, arrays, offsets):
            parameter.set_data(ms.Tensor(values[offset:offset + array.size].reshape(array.shape)))
