"""Training-outcome parity: one config trained in MindSpore (train/) and in the PyTorch reference (torch_ref's
trainer), seed by seed, and the accuracy they reach compared (comparison.py, report.py); the reference trainer's
glue (reference_config.py, reference_starts.py, reference_scoring.py). It sits above training and evaluation."""
