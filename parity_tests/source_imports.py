"""The absolute imports a source file makes, read with ast (never imported): shared by the layering test and
the declared-dependencies test."""
import ast


def absolute_imports(path):
    """(line, top-level module) for every absolute import in the Python file `path`, in any scope."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names]
    return found
