"""The absolute imports a source file makes, read with ast (never imported): shared by the layering test and
the declared-dependencies test."""
import ast


def _imports(path):
    """(line, module named, names imported from it or None) for every absolute import in the file, in any scope."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module, [alias.name for alias in node.names]


def absolute_imports(path):
    """(line, top-level module) for every absolute import in the Python file `path`, in any scope."""
    return [(line, module.split(".")[0]) for line, module, _ in _imports(path)]


def imported_files(path, root):
    """(line, file) for every import in `path` of a module that is a file under `root`: `from a.b import c` names
    a/b/c.py when c is a module, else a/b.py (or a/b/__init__.py)."""
    found = []
    for line, module, names in _imports(path):
        submodules = [_module_file(f"{module}.{name}", root) for name in names or []]
        found += [(line, target) for target in submodules if target is not None]
        if not names or None in submodules:
            target = _module_file(module, root)
            found += [(line, target)] if target is not None else []
    return found


def _module_file(dotted, root):
    base = root.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None
