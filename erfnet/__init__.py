"""The `erfnet` command line and the facts both frameworks share (layer table, class weights).

Importing this package is cheap: it loads neither MindSpore nor PyTorch.
"""
