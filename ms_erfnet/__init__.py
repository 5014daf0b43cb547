"""ERFNet in MindSpore: the model this project trains and ships.

Importing it first caps MindSpore's oneDNN at AVX2 on AVX-512 CPUs (see ms_erfnet/onednn.py).
"""
from ms_erfnet.onednn import cap_isa_where_it_helps

ONEDNN_CAPPED = cap_isa_where_it_helps()

from ms_erfnet.model import ERFNet  # noqa: E402  (after the oneDNN cap, which must precede any kernel)

__all__ = ["ERFNet", "ONEDNN_CAPPED"]
