"""Model parity: ms_erfnet against torch_ref layer by layer (engine.py), the weight table (weight_table.py), two
files compared (files.py, pair.py), and the report the `erfnet parity` command and the demo print (report.py).
It needs only the models, the converter and the facts, and sits right above the converter, below data, eval and
training."""
