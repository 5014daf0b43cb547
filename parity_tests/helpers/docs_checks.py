"""What keeps the README and docs/ honest: every `erfnet ...` command they show names a subcommand and options the
current CLI has (and, where it is a complete command rather than a synopsis, parses), every relative link and
its #anchor resolves, every shipped config a `--config NAME` names exists. Each check returns its findings as
lines, so a test can show them all at once and plant a stale one."""
import contextlib
import io
import re
import shlex
from pathlib import Path

from erfnet.cli import SUBCOMMANDS, command_parser
from train.config import shipped_configs

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
INLINE_COMMAND = re.compile(r"`(erfnet [^`]+)`")
SYNOPSIS = re.compile(r"[\[\]|]|\.\.\.|<|\b[A-Z][A-Z_]{2,}\b")  # [optional], a|b, ..., <...>, FILE: not literal


def documents():
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def shown_commands(text):
    """Every `erfnet ...` command shown: (command, complete) for code-block lines (indented, or fenced as sh; several
    per line allowed; a trailing backslash continues it), and inline code, which names a command without being
    one. Fenced blocks of other kinds (```text) show output, not commands."""
    commands, fence = [], None
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else line[3:].strip()
            continue
        if fence in ("sh", "bash", "console") or fence is None and line.startswith("    "):
            commands += [(f"erfnet {part.strip()}", True)
                         for part in re.split(r"(?:^|\s{2,})erfnet ", line.strip())[1:]]
        commands += [(command, False) for command in INLINE_COMMAND.findall(line)]
    return [(re.split(r"\s+#", command)[0].strip(), complete) for command, complete in commands]


def command_findings(command, complete, parsers):
    """What is wrong with one shown command: an unknown subcommand or option, or a complete command that does not
    parse (a synopsis with placeholders, FILE, [optional] or a|b, is checked for its names only)."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if len(words) < 2 or words[1].startswith("-") or words[1].endswith(":") or SYNOPSIS.fullmatch(words[1]) or \
            re.fullmatch(r"[A-Z_]+", words[1]):
        return []  # the top level (`erfnet --help`), an error message shown, a placeholder for the command
    findings = []
    for name in words[1].split("/"):
        if name not in SUBCOMMANDS:
            findings.append(f"{command}: no subcommand {name!r}")
            continue
        parser = parsers.setdefault(name, command_parser(name))
        known = {option for action in parser._actions for option in action.option_strings}
        unknown = [word.split("=")[0] for word in words[2:]
                   if word.startswith("--") and word.split("=")[0] not in known]
        if unknown:
            findings.append(f"{command}: erfnet {name} has no {', '.join(unknown)}")
        elif complete and "/" not in words[1] and not SYNOPSIS.search(command):
            with contextlib.redirect_stderr(io.StringIO()) as error:
                try:
                    parser.parse_args(words[2:])
                except SystemExit:
                    findings.append(f"{command}: does not parse: {error.getvalue().strip().splitlines()[-1]}")
    return findings


def config_findings(command):
    match = re.search(r"--config[ =]([\w.-]+)", command)
    if match and "/" not in match.group(1) and not match.group(1).endswith(".yaml") and \
            not SYNOPSIS.search(match.group(1)) and match.group(1) not in shipped_configs():
        return [f"{command}: no shipped config {match.group(1)!r}"]
    return []


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation but hyphens and underscores dropped, spaces to
    hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path):
    return {slug(line.lstrip("#")) for line in path.read_text().splitlines() if re.match(r"#{1,6} ", line)}


def link_findings(path, text):
    findings = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web address: not checked here (no network)
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists():
            findings.append(f"{path.name}: link {target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            findings.append(f"{path.name}: link {target}: no heading #{anchor}")
    return findings


def findings_in(path, text=None):
    """Every finding of one document (its text may be given, to check a planted change)."""
    text = path.read_text() if text is None else text
    parsers = {}
    found = link_findings(path, text)
    for command, complete in shown_commands(text):
        found += command_findings(command, complete, parsers) + config_findings(command)
    return [f"{path.name}: {line}" if not line.startswith(path.name) else line for line in found]
