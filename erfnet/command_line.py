"""The command a user types to go on after an interruption: their own `erfnet` command line, quoted as a shell
takes it, with the options that make it continue added."""
import shlex


def again(argv, *options):
    """`erfnet <argv>` with each of `options` appended unless the line already holds it."""
    return shlex.join(["erfnet", *argv, *(option for option in options if option not in argv)])
