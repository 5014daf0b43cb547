"""ERFNet in MindSpore: the model this project trains and ships.

Importing it changes nothing in the process. Entry points (the CLI, the test session, the benchmarks) call
ms_erfnet.onednn.cap_isa_where_it_helps() before MindSpore runs its first kernel.
"""
from ms_erfnet.model import ERFNet

__all__ = ["ERFNet"]
