"""The pure core imports no web, database or Redis library (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "cvguard"
PURE = ["detection", "behavior", "taxonomy.py", "events.py"]
FORBIDDEN = {
    "fastapi",
    "starlette",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "redis",
    "httpx",
    "requests",
    "typer",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path",
    [
        p
        for part in PURE
        for p in ([CORE / part] if part.endswith(".py") else sorted((CORE / part).rglob("*.py")))
    ],
    ids=lambda p: str(p.relative_to(CORE)),
)
def test_core_module_imports_no_io_library(path: Path) -> None:
    assert not (_imports(path) & FORBIDDEN)
