"""Generalisation: COLD dev accuracy and leave-one-topic-out macro-F1, with the baseline.

    python bench/bench_accuracy.py

Leave-one-topic-out: train without race (resp. region, gender), test on that topic's dev rows.
The baseline (character 1–3-gram TF-IDF + linear SVM on raw text) is trained and scored on the
same splits in the same run.
"""

from __future__ import annotations

import json
import sys

import common  # noqa: F401  (puts src on the path)


def main() -> None:
    from cvguard.detection.lexicon import Lexicon
    from cvguard.detection.training import (
        baseline_scores,
        featurize_all,
        leave_one_topic_out,
        load_cold,
        metrics,
        train_zh,
    )

    train, dev = load_cold()
    lexicon = Lexicon.default()
    model = train_zh(train, lexicon, seed=0, calibrate=False)
    pred = (model.decision(featurize_all([e.text for e in dev], lexicon)) > 0).astype(int).tolist()
    result = {
        "dev": {"model": metrics([e.label for e in dev], pred), "baseline": baseline_scores(train, dev)},
        "leave_one_topic_out": leave_one_topic_out(
            train, dev, lexicon, seed=0, log=lambda m: print(m, file=sys.stderr)
        ),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
