"""What a person should not see in an `erfnet` command's console output: MindSpore's own log lines, Python
warnings, msrun's process lines and carriage returns (output to a pipe is whole lines)."""
import re

MINDSPORE_LOG = re.compile(r"^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] [A-Z_]+\(\d+")
PYTHON_WARNING = re.compile(r"\b\w*Warning: ")
MSRUN_OWN = ("Start scheduler process", "Start worker process")


def unwanted(text):
    """The lines of `text` a person should not see."""
    return [line for line in text.split("\n") if MINDSPORE_LOG.match(line) or PYTHON_WARNING.search(line)
            or line.startswith(MSRUN_OWN) or "\r" in line]
