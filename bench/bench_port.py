"""The model port's cost on one core: screening with no plug-in set, through ``plugged(settings)``
as the API and workers do, against the packaged screener, and the cascade with an in-process ONNX
plug-in (a small lookup graph built here, so the figure is the cascade's own overhead plus the
onnxruntime call, not a real BERT's).

    python bench/bench_port.py [--n 10000] [--single 2000] [--rounds 3]

Rounds alternate the screeners so that a busy machine slows them alike. Besides wall-clock figures
it reports CPU time (``time.thread_time``): on a machine shared with other work the wall clock
measures the neighbours as much as the code, the thread's CPU time much less so.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import pin_one_core, typical_comments


def _lookup_model(path: Path) -> Path:
    from onnx import TensorProto, helper

    node = helper.make_node("LabelEncoder", ["text"], ["score"], domain="ai.onnx.ml",
                            keys_strings=["-"], values_floats=[0.0], default_float=0.3)
    graph = helper.make_graph(
        [node], "lookup", [helper.make_tensor_value_info("text", TensorProto.STRING, [None])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, [None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 9
    path.write_bytes(model.SerializeToString())
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--single", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    pinned = pin_one_core()

    from cvguard.config import Settings
    from cvguard.detection.port import CascadeScreener
    from cvguard.detection.screen import Screener
    from cvguard.plugin import plugged

    texts = typical_comments(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        packaged = Screener.default()
        off = plugged(Settings(data_dir=Path(tmp)))()
        on = plugged(Settings(data_dir=Path(tmp), plugin_kind="onnx",
                              plugin_path=_lookup_model(Path(tmp) / "lookup.onnx")))()
        assert isinstance(on, CascadeScreener)
        runs = {"packaged": packaged, "plugin_off": off, "plugin_onnx": on}
        for s in runs.values():
            s.screen_many(texts[:200])  # warm caches
        per_s: dict[str, list[int]] = {k: [] for k in runs}
        cpu_per_s: dict[str, list[int]] = {k: [] for k in runs}
        p99: dict[str, list[float]] = {k: [] for k in runs}
        cpu_p99: dict[str, list[float]] = {k: [] for k in runs}
        for _ in range(args.rounds):
            for name, s in runs.items():
                t0, c0 = time.perf_counter(), time.thread_time()
                for i in range(0, len(texts), 1000):
                    s.screen_many(texts[i : i + 1000])
                per_s[name].append(round(len(texts) / (time.perf_counter() - t0)))
                cpu_per_s[name].append(round(len(texts) / (time.thread_time() - c0)))
                lat, cpu = [], []
                for text in texts[: args.single]:
                    t, c = time.perf_counter(), time.thread_time()
                    s.screen(text)
                    lat.append(time.perf_counter() - t)
                    cpu.append(time.thread_time() - c)
                lat.sort()
                cpu.sort()
                p99[name].append(round(lat[int(0.99 * len(lat))] * 1000, 3))
                cpu_p99[name].append(round(cpu[int(0.99 * len(cpu))] * 1000, 3))
        stats = on.stats.snapshot()
    result = {
        "cpu": pinned,
        "texts": len(texts),
        "plugin_off_is_packaged_screener": off is packaged,
        "screen_many_per_s": per_s,
        "screen_many_per_cpu_s": cpu_per_s,
        "screen_p99_ms": p99,
        "screen_p99_cpu_ms": cpu_p99,
        "share_sent_to_plugin": round(int(stats["consulted"]) / max(1, int(stats["screened"])), 3),  # type: ignore[call-overload]
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
