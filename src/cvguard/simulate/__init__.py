"""The scenario simulator: realistic event streams with labelled ground truth.

    >>> from cvguard.simulate import SimConfig, generate
    >>> lines = generate(SimConfig(seed=7, hours=2, users=500))   # truth header, then events

``cvguard simulate --seed N --out EVENTS.jsonl`` writes the same lines to a file; the format is
described in :mod:`cvguard.simulate.writer`, the scenarios in :mod:`cvguard.simulate.scenarios`.
"""

from cvguard.simulate.plan import FORMAT, SCENARIO_NAMES, SimConfig, Simulation
from cvguard.simulate.writer import (
    WriteSummary,
    deliver,
    generate,
    is_truth,
    read_events,
    read_truth,
    write_file,
    write_stream,
)

__all__ = [
    "FORMAT",
    "SCENARIO_NAMES",
    "SimConfig",
    "Simulation",
    "WriteSummary",
    "deliver",
    "generate",
    "is_truth",
    "read_events",
    "read_truth",
    "write_file",
    "write_stream",
]
