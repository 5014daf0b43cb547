"""What the tests share that is not a test: fixtures (the *_fixtures modules and msrun_runs, registered by
parity_tests/conftest.py, so a test asks for them by argument name), independent references to compare against,
planted faults, and readers of the project's source and docs. fault_injection/ is not imported: it is put on the
PYTHONPATH of processes a test starts."""
