"""Process-level settings for cvguard's long-running commands (serve, replay, worker)."""

from __future__ import annotations

import gc


def long_running() -> None:
    """Tune the garbage collector for a process that keeps large behaviour state in memory.

    Behaviour state is millions of small long-lived objects, and CPython's default thresholds
    (700, 10, 10) rescan them in full collections again and again while batches allocate; with
    these, embedded replay runs about a fifth faster (docs/PERFORMANCE.md).
    Reference counting frees almost everything anyway; cycles are still collected.
    """
    gc.set_threshold(50_000, 20, 100)
