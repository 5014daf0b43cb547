"""ERFNet weights both ways between PyTorch files and MindSpore checkpoints, strictly and by name."""
from convert.api import convert_file, read_weights, write_weights

__all__ = ["convert_file", "read_weights", "write_weights"]
