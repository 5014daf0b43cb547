"""The learning-rate schedule: erfnet_pytorch's per-epoch poly curve over a nominal number of epochs.

lr(e) = lr0 * (1 - (e - 1) / total) ** power for e = 1..total, constant within an epoch. A stage trains a
slice [first, last] of that curve, so a recipe split into stages keeps the single curve of the original run.
"""


def poly_learning_rate(lr0, epoch, total_epochs=150, power=0.9):
    """The learning rate of 1-based `epoch` on the poly curve of `total_epochs` epochs."""
    if not 1 <= epoch <= total_epochs:
        raise ValueError(f"epoch {epoch} is outside the curve's epochs 1..{total_epochs}")
    return lr0 * (1 - (epoch - 1) / total_epochs) ** power
