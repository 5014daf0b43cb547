"""The top layer: the `erfnet` command (erfnet/cli.py), one module per subcommand (erfnet/commands/), the msrun
launcher and the log set-up. Nothing below imports it.

Importing this package is cheap: it loads neither MindSpore nor PyTorch.
"""
