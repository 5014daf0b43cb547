"""The one exception type for mistakes a user can fix (bad file, bad option, bad config)."""


class UserError(Exception):
    """A problem with the user's input. The CLI prints its message and exits with code 2, no traceback."""


def first_line(error):
    """The first line of an exception's message for a one-line UserError, or the exception's type when the message
    is empty (torch.load of an empty file raises one with no message)."""
    return (str(error).splitlines() or [type(error).__name__])[0]
