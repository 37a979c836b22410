"""The pure core imports no web, database or Redis library (STYLE.md), nor cvguard's own I/O layers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "src" / "cvguard"
PURE = [
    "audit", "detection", "behavior", "enforcement", "policy", "protection", "reports", "evidence",
    "review", "taxonomy.py", "events.py", "verdict.py", "vocabulary.py",
]
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
# cvguard's own packages that do I/O: the core is called by them, never the other way round
FORBIDDEN_OWN = ("cvguard.store", "cvguard.api", "cvguard.pipeline")


def _modules(path: Path) -> set[str]:
    """Every module the file imports, by its full dotted name (``from a import b`` counts ``a.b`` too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _imports(path: Path) -> set[str]:
    return {name.split(".")[0] for name in _modules(path)}


CORE_FILES = [
    p
    for part in PURE
    for p in ([CORE / part] if part.endswith(".py") else sorted((CORE / part).rglob("*.py")))
]


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_no_io_library(path: Path) -> None:
    assert not (_imports(path) & FORBIDDEN)


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_imports_none_of_cvguards_io_packages(path: Path) -> None:
    own = {m for m in _modules(path) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN_OWN)}
    assert not own


def test_the_check_sees_cvguards_own_packages(tmp_path: Path) -> None:
    # the forms an import of the store can take, each caught
    for line in ("import cvguard.store", "from cvguard.store import EventStore", "from cvguard import api"):
        probe = tmp_path / "probe.py"
        probe.write_text(line + "\n", encoding="utf-8")
        assert any(m.startswith(FORBIDDEN_OWN) for m in _modules(probe)), line
