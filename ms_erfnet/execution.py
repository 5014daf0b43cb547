"""The MindSpore execution mode ERFNet runs in: graph mode, for training and for inference, the faster mode in
every measured case but one (bench/speed.py; the figures are in README "Speed"). The train step is compiled
once per batch shape (train/step.py)."""
import mindspore as ms


def use_graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
