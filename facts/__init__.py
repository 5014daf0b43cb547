"""The bottom layer: ERFNet's layer table and class weights, the Cityscapes label maps, the user-error type,
atomic file output and the progress display. It imports no other package of this project.

Importing it is cheap: it loads neither MindSpore nor PyTorch.
"""
