"""Faults planted in the processes a test starts, with this folder on their PYTHONPATH (Python imports
`sitecustomize` at start-up). Each fault is a real SIGKILL of the process, at a chosen moment:

- ERFNET_KILL_IN_RENAME=PREFIX, ERFNET_KILL_IN_REPLACE=PREFIX: inside os.rename / os.replace(src, dst) when
  dst's name starts with PREFIX, before it renames. MindSpore's save_checkpoint writes `<temporary>.tmp` and
  renames it to atomic_output's temporary name (os.rename); atomic_output then renames its temporary to the
  target (os.replace). A kill in the first leaves MindSpore's temporary, in the second atomic_output's.
- ERFNET_KILL_RANK=R with ERFNET_KILL_AFTER=FILE: the msrun worker of rank R, ERFNET_KILL_DELAY seconds (default
  1) after FILE appears: in the middle of the epoch after the one whose checkpoint FILE is.
"""
import os
import signal
import threading
import time


def _die():
    os.kill(os.getpid(), signal.SIGKILL)


def _dying(rename, prefix):
    def rename_or_die(src, dst, *args, **kwargs):
        if os.path.basename(str(dst)).startswith(prefix):
            _die()
        return rename(src, dst, *args, **kwargs)
    return rename_or_die


if os.environ.get("ERFNET_KILL_IN_RENAME"):
    os.rename = _dying(os.rename, os.environ["ERFNET_KILL_IN_RENAME"])
if os.environ.get("ERFNET_KILL_IN_REPLACE"):
    os.replace = _dying(os.replace, os.environ["ERFNET_KILL_IN_REPLACE"])

if os.environ.get("MS_ROLE") == "MS_WORKER" and os.environ.get("RANK_ID") == os.environ.get("ERFNET_KILL_RANK"):
    def _die_after(marker, delay):
        while not os.path.exists(marker):
            time.sleep(0.05)
        time.sleep(delay)
        _die()

    threading.Thread(target=_die_after, args=(os.environ["ERFNET_KILL_AFTER"],
                                              float(os.environ.get("ERFNET_KILL_DELAY", "1"))), daemon=True).start()
