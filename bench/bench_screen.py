"""Screening speed on one core: screen_many throughput and single-call latency.

    python bench/bench_screen.py [--n 20000] [--repeat 3] [--clock cpu]

Times the full pipeline (normalise, lexicon, PII, context, model) and, in the same run, a plain
character TF-IDF + linear SVM baseline (scikit-learn), and prints both with their ratio.
``--repeat`` keeps the best of several batch passes; ``--clock cpu`` times the process's CPU
time instead of the wall clock (on a shared machine, time stolen by neighbours is not counted).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import pin_one_core, typical_comments


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--single", type=int, default=3000)
    ap.add_argument(
        "--repeat", type=int, default=1, help="time the batch pass this many times and keep the best"
    )
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: the process's CPU time, which a busy shared machine disturbs less",
    )
    args = ap.parse_args()
    pinned = pin_one_core()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from cvguard.detection.screen import Screener
    from cvguard.detection.training import load_cold

    texts = typical_comments(args.n)
    screener = Screener.default()
    screener.screen_many(texts[:200])  # warm caches

    batch_s = float("inf")
    for _ in range(args.repeat):
        t0 = clock()
        for i in range(0, len(texts), 1000):
            screener.screen_many(texts[i : i + 1000])
        batch_s = min(batch_s, clock() - t0)

    lat = []
    for text in texts[: args.single]:
        s = time.perf_counter()
        screener.screen(text)
        lat.append(time.perf_counter() - s)
    lat.sort()

    train, _ = load_cold()
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    clf = LinearSVC(C=0.5).fit(vec.fit_transform([e.text for e in train]), [e.label for e in train])
    base_s = float("inf")
    for _ in range(args.repeat):
        t0 = clock()
        for i in range(0, len(texts), 1000):
            clf.decision_function(vec.transform(texts[i : i + 1000]))
        base_s = min(base_s, clock() - t0)
    base_lat = []
    for text in texts[: args.single]:
        s = time.perf_counter()
        clf.decision_function(vec.transform([text]))
        base_lat.append(time.perf_counter() - s)
    base_lat.sort()

    def p(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000

    result = {
        "cpu": pinned,
        "clock": args.clock,
        "repeat": args.repeat,
        "texts": len(texts),
        "mean_chars": round(statistics.mean(map(len, texts)), 1),
        "screen_many_per_s": round(len(texts) / batch_s),
        "baseline_per_s": round(len(texts) / base_s),
        "throughput_ratio_to_baseline": round(base_s / batch_s, 2),
        "screen_p50_ms": round(p(lat, 0.5), 3),
        "screen_p99_ms": round(p(lat, 0.99), 3),
        "baseline_p99_ms": round(p(base_lat, 0.99), 3),
        "p99_ratio_to_baseline": round(p(lat, 0.99) / p(base_lat, 0.99), 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
