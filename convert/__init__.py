"""ERFNet weights both ways between PyTorch files and MindSpore checkpoints, strictly and by name."""
from convert.api import read_weights, write_weights
from convert.conversion import convert_file

__all__ = ["convert_file", "read_weights", "write_weights"]
