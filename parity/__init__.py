"""The parity engine: ms_erfnet against torch_ref layer by layer (engine.py), and the report the `erfnet parity`
command and the demo print (report.py). It sits above the models, the converter and training."""
