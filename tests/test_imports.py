"""The package's modules keep each other's private names private: no module imports a name that starts with an
underscore from a module of another package (a subpackage such as first_level or group_level)."""

import ast

from tests.helpers import REPO


def test_no_private_name_is_imported_across_packages():
    crossings = []
    for path in sorted((REPO / "bids_app").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        own = ".".join(parts[:-1])  # a module's package (an __init__'s: its own)
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bids_app")):
                continue
            source = node.module.rsplit(".", 1)[0] if node.module != "bids_app" else "bids_app"
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__") and source != own:
                    crossings.append(f"{path.relative_to(REPO)}: {alias.name} from {node.module}")
    assert not crossings, crossings
    assert len(list((REPO / "bids_app").rglob("*.py"))) > 50  # the walk saw the package
