"""The one exception type for mistakes a user can fix (bad file, bad option, bad config)."""


class UserError(Exception):
    """A problem with the user's input. The CLI prints its message and exits with code 2, no traceback."""


class BadSample(UserError):
    """A sample that cannot be used: missing partner, unreadable file, size mismatch or unknown label. The CLI
    adds that --skip-bad leaves such files out for the commands that take it; compare-training does not (the PyTorch
    reference reads every file)."""


def first_line(error):
    """The first line of an exception's message for a one-line UserError, or the exception's type when the message
    is empty (torch.load of an empty file raises one with no message)."""
    return (str(error).splitlines() or [type(error).__name__])[0]
