"""Evasion robustness: recall and false-positive rate on perturbed COLD dev texts.

    python bench/bench_evasion.py [--seed 7]

Each dev text is perturbed by each family (separators, traditional, homophones, pinyin, mixed);
the full screener's violation flag is scored against the original label. A plain TF-IDF + SVM
trained on the raw training texts is scored in the same run for comparison.
"""

from __future__ import annotations

import argparse
import json
import random

from common import pin_one_core


def rates(labels: list[int], flags: list[bool]) -> tuple[float, float]:
    pos = [f for y, f in zip(labels, flags, strict=True) if y == 1]
    neg = [f for y, f in zip(labels, flags, strict=True) if y == 0]
    return sum(pos) / len(pos), sum(neg) / len(neg)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    pin_one_core()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    from cvguard.detection.perturb import FAMILIES, Perturber
    from cvguard.detection.screen import Screener
    from cvguard.detection.training import load_cold

    train, dev = load_cold()
    screener = Screener.default()
    perturber = Perturber(e.text for e in train)
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    clf = LinearSVC(C=0.5).fit(vec.fit_transform([e.text for e in train]), [e.label for e in train])
    labels = [e.label for e in dev]

    def screen(texts: list[str]) -> list[bool]:
        out: list[bool] = []
        for i in range(0, len(texts), 1000):
            out += [v.violation for v in screener.screen_many(texts[i : i + 1000])]
        return out

    def baseline(texts: list[str]) -> list[bool]:
        return [bool(d > 0) for d in clf.decision_function(vec.transform(texts))]

    clean = [e.text for e in dev]
    rec0, fpr0 = rates(labels, screen(clean))
    brec0, bfpr0 = rates(labels, baseline(clean))
    result: dict[str, object] = {
        "clean": {
            "recall": round(rec0, 4),
            "fpr": round(fpr0, 4),
            "baseline_recall": round(brec0, 4),
            "baseline_fpr": round(bfpr0, 4),
        },
    }
    for fam in FAMILIES:
        rng = random.Random(f"{args.seed}:{fam}")
        texts = [perturber.apply(t, fam, rng) for t in clean]
        rec, fpr = rates(labels, screen(texts))
        brec, bfpr = rates(labels, baseline(texts))
        result[fam] = {
            "recall": round(rec, 4),
            "recall_drop_points": round(100 * (rec0 - rec), 2),
            "fpr": round(fpr, 4),
            "fpr_rise_points": round(100 * (fpr - fpr0), 2),
            "baseline_recall_drop_points": round(100 * (brec0 - brec), 2),
            "baseline_fpr_rise_points": round(100 * (bfpr - bfpr0), 2),
        }
        print(fam, result[fam], flush=True)
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
