"""One weight file converted into another: read strictly, realigned only when asked, written by file type."""
from convert.api import read_weights, target_framework, write_weights
from convert.realign import realigned, target_alignment
from facts.atomic import check_destination


def convert_file(source, target, torch_prefix="module.", realign=False, zoo_names=False, force=False):
    """Read `source`, check it strictly, write `target`; returns the Weights (with notes). Nothing is written
    when the source has any problem, when `target` is the source, or when it exists and `force` is not given.
    Weights change upsampler alignment only with `realign`."""
    check_destination(target, [source], force)
    torch_target = target_framework(target, zoo_names) == "torch"
    weights = read_weights(source)
    alignment = target_alignment(weights, torch_target, zoo_names, realign)
    weights = realigned(weights, alignment, realign, source, target)
    write_weights(weights, target, torch_prefix, zoo_names)
    return weights
