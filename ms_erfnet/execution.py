"""The MindSpore execution mode ERFNet runs in, chosen by measurement (bench/speed.py, README "Speed").

Graph mode, for training and for inference. Measured on this project's 2-core CPU with MindSpore 2.10:
- Training compiles the whole step (forward, loss, backward, Adam; train/step.py): 0.115 s per step at 64x128
  batch 4 against 0.85 s op by op in PyNative mode and 0.46 s for the same `ms.jit` step called from PyNative
  mode; 1.50 s against 2.3 s at 512x1024 batch 1. The step's inputs that change (dropout masks, learning rate)
  are Parameters, so it compiles once per batch shape.
- Inference: forward 0.40 s against 0.79 s at 512x1024 batch 1; `evaluate` on 12 images at height 512 takes
  7.5 s against 9.2 s, compilation (about 1.5 s per input shape) included.
"""
import mindspore as ms


def use_graph_mode():
    ms.set_context(mode=ms.GRAPH_MODE)
