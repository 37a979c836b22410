"""Shared bits of the benchmarks: the comment corpus and one-core pinning."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def pin_one_core() -> str:
    """Run on one core, as the targets are stated per core."""
    if hasattr(os, "sched_setaffinity"):
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def typical_comments(limit: int = 20000) -> list[str]:
    """COLD dev texts of 10–100 characters: typical comment lengths."""
    from cvguard.detection.training import load_cold

    _, dev = load_cold()
    train, _ = load_cold()
    texts = [e.text for e in dev + train if 10 <= len(e.text) <= 100]
    return texts[:limit]
