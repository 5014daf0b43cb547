"""The one exception type for mistakes a user can fix (bad file, bad option, bad config)."""


class UserError(Exception):
    """A problem with the user's input. The CLI prints its message and exits with code 2, no traceback."""
