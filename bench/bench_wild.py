"""Screening in the wild: today's screener on the suites in detection/data/wild/.

    python bench/bench_wild.py [--no-cold] [--misses] [--models DIR]

- cloaking: recall on each pair's plain sentence and on its cloaked twin, the drop in points,
  overall and per substitution type, and the flagged share of the controls (the sentence frame
  with a neutral word: it should be nil); and how much of the suite the tables already know (the
  normaliser turns the form back into the term, or the lexicon hits the form by itself), with
  recall on the known and on the unknown forms apart;
- beyond COLD: recall per category and per kind, per-category precision, false-positive rate on
  the safe texts of the same topics, all on the held-out file only;
- counter-speech: flagged share of the safe texts (per kind) and recall on attacks wrapped in
  a defence;
- COLD dev accuracy, precision and recall of the full screener, for reference (skipped with
  --no-cold or when ../shared/data is absent).
- development files (never trained on, read to choose settings): abusive rows caught and safe
  rows flagged, per file; the development cloaking file as the cloaking suite above.

Prints one JSON object; --misses also lists what was missed or wrongly flagged, on stderr;
--models scores the artifacts in DIR (as `cvguard train --out DIR` writes them: the main models
and, where the folder holds them, the everyday, both stance and the category models) instead of the
committed ones.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common  # noqa: F401  (puts src on the path)


def share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-cold", action="store_true", help="skip COLD dev")
    ap.add_argument("--misses", action="store_true", help="list misses and false positives on stderr")
    ap.add_argument("--models", type=Path, help="score the model artifacts in this folder instead")
    args = ap.parse_args()

    from cvguard.detection.model import (
        CATEGORIES,
        EVERYDAY,
        PERSON_STANCE,
        STANCE,
        CategoryHeads,
        LinearTextModel,
        artifact_path,
    )
    from cvguard.detection.screen import Screener
    from cvguard.detection.wild import (
        BEYOND_HELDOUT,
        COUNTER_SPEECH,
        DEV_CLOAKING,
        DEVELOPMENT,
        WILD_DIR,
        load_cloaking,
        load_suite,
    )

    if args.models:
        models = {lang: LinearTextModel.load(artifact_path(lang, args.models)) for lang in ("zh", "en")}
        extra: dict[str, Any] = {}
        for key, name in (("everyday", EVERYDAY), ("stance", STANCE), ("person_stance", PERSON_STANCE)):
            if artifact_path(name, args.models).exists():
                extra[key] = LinearTextModel.load(artifact_path(name, args.models))
        if artifact_path(CATEGORIES, args.models).exists():
            extra["categories"] = CategoryHeads.load(artifact_path(CATEGORIES, args.models))
        screener = Screener(models=models, **extra)
    else:
        screener = Screener.default()

    def flags(texts: Sequence[str]) -> list[bool]:
        return [v.violation for v in screen(texts)]

    def screen(texts: Sequence[str]) -> list[Any]:
        out: list[Any] = []
        for i in range(0, len(texts), 1000):
            out += screener.screen_many(texts[i : i + 1000])
        return out

    misses: list[str] = []
    result: dict[str, Any] = {"versions": screener.versions}
    result["cloaking"] = cloaking(load_cloaking(), flags, screener, misses)
    result["beyond_cold_heldout"] = beyond(load_suite(BEYOND_HELDOUT), screen, screener.threshold, misses)
    result["counter_speech"] = counter(load_suite(COUNTER_SPEECH), flags, misses)
    if not args.no_cold:
        result["cold_dev"] = cold(flags)
    result["development"] = {
        name: development(load_suite(name), flags) for name in DEVELOPMENT if name != DEV_CLOAKING
    }
    result["development"][DEV_CLOAKING] = cloaking(
        load_cloaking(WILD_DIR / DEV_CLOAKING), flags, screener, []
    )
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.misses:
        print("\n".join(misses), file=sys.stderr)


def cloaking(pairs: Sequence[Any], flags: Any, screener: Any, misses: list[str]) -> dict[str, Any]:
    from cvguard.detection.normalize import normalize, to_pinyin

    plain = flags([p.plain for p in pairs])
    cloaked = flags([p.cloaked for p in pairs])
    control = flags([p.control for p in pairs])

    def mapped(p: Any) -> bool:  # the normaliser writes the form back as the term
        return normalize(p.term).text in normalize(p.cloaked).text

    def listed(p: Any) -> bool:  # the lexicon hits the form on its own, in any mode
        norm = normalize(p.form)
        return bool(screener.lexicon.find(norm, to_pinyin(norm)))

    known = [mapped(p) or listed(p) for p in pairs]

    def figures(idx: Sequence[int]) -> dict[str, Any]:
        rp, rc = share([plain[i] for i in idx]), share([cloaked[i] for i in idx])
        caught = [i for i in idx if plain[i]]
        return {
            "pairs": len(idx),
            "recall_plain": rp,
            "recall_cloaked": rc,
            "drop_points": round(100 * (rp - rc), 2),
            # Of the pairs whose plain sentence is caught, the share still caught once cloaked.
            "kept_when_plain_caught": share([cloaked[i] for i in caught]),
            # The frame with a neutral word: flagged controls mean the frame, not the form, is caught.
            "control_flagged": share([control[i] for i in idx]),
        }

    everything = range(len(pairs))
    by_type: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        by_type[p.type].append(i)
        if plain[i] and not cloaked[i]:
            misses.append(f"cloaking lost [{p.type}] {p.form} ← {p.term}: {p.cloaked}")
        if control[i]:
            misses.append(f"cloaking control flagged: {p.control}")
    forms_unknown = sorted({p.form for i, p in enumerate(pairs) if not known[i]})
    return {
        "overall": figures(everything),
        "by_type": {t: figures(idx) for t, idx in sorted(by_type.items())},
        "tables": {
            "normaliser_maps_share": share([mapped(p) for p in pairs]),
            "lexicon_hits_form_share": share([listed(p) for p in pairs]),
            "known_share": share(known),
            "known_forms": figures([i for i in everything if known[i]]),
            "unknown_forms": figures([i for i in everything if not known[i]]),
            "forms_unknown_to_tables": forms_unknown,
        },
    }


def beyond(rows: Sequence[Any], screen: Any, threshold: float, misses: list[str]) -> dict[str, Any]:
    verdicts = screen([r.text for r in rows])
    flagged = [v.violation for v in verdicts]
    abusive = [i for i, r in enumerate(rows) if r.label]
    safe = [i for i, r in enumerate(rows) if not r.label]
    tp = sum(flagged[i] for i in abusive)
    fp = sum(flagged[i] for i in safe)
    per_category: dict[str, Any] = {}
    for c in sorted({r.category for r in rows if r.label}):
        gold = [i for i in abusive if rows[i].category == c]
        as_c = [i for i, v in enumerate(verdicts) if v.categories.get(c, 0.0) >= threshold]
        per_category[c] = {
            "n": len(gold),
            "recall": share([flagged[i] for i in gold]),  # flagged at all
            "recall_as_category": share([verdicts[i].categories.get(c, 0.0) >= threshold for i in gold]),
            "flagged_as_category": len(as_c),
            "precision": share([rows[i].category == c for i in as_c]),
        }
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_kind[f"{'abusive' if r.label else 'safe'}:{r.kind}"].append(flagged[i])
        if flagged[i] != bool(r.label):
            misses.append(f"beyond {'FP' if flagged[i] else 'FN'} {r.kind}/{r.category}: {r.text}")
    return {
        "abusive": len(abusive),
        "safe": len(safe),
        "recall": share([flagged[i] for i in abusive]),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "fp_rate_safe": share([flagged[i] for i in safe]),
        "per_category": per_category,
        "flagged_share_by_kind": {k: {"n": len(v), "flagged": share(v)} for k, v in sorted(by_kind.items())},
    }


def counter(rows: Sequence[Any], flags: Any, misses: list[str]) -> dict[str, Any]:
    flagged = flags([r.text for r in rows])
    by_kind: dict[str, list[bool]] = defaultdict(list)
    for r, f in zip(rows, flagged, strict=True):
        by_kind[r.kind].append(f)
        if f != bool(r.label):
            misses.append(f"counter {'FP' if f else 'FN'} {r.kind}: {r.text}")
    return {
        "safe": sum(1 for r in rows if not r.label),
        "wrapped_attacks": sum(1 for r in rows if r.label),
        "safe_flagged_share": share([f for r, f in zip(rows, flagged, strict=True) if not r.label]),
        "wrapped_attack_recall": share([f for r, f in zip(rows, flagged, strict=True) if r.label]),
        "flagged_share_by_kind": {k: {"n": len(v), "flagged": share(v)} for k, v in sorted(by_kind.items())},
    }


def development(rows: Sequence[Any], flags: Any) -> dict[str, Any]:
    """A development file (never trained on, read to choose settings): abusive rows caught and safe
    rows flagged (look-alikes, harmless frames, speech against abuse)."""
    flagged = flags([r.text for r in rows])
    return {
        "abusive": sum(1 for r in rows if r.label),
        "safe": sum(1 for r in rows if not r.label),
        "recall": share([f for r, f in zip(rows, flagged, strict=True) if r.label]),
        "safe_flagged": share([f for r, f in zip(rows, flagged, strict=True) if not r.label]),
    }


def cold(flags: Any) -> dict[str, Any]:
    from cvguard.detection.training import data_dir, load_cold, metrics

    if not (data_dir() / "cold" / "dev.csv").exists():
        return {"skipped": f"no COLD under {data_dir()}"}
    _, dev = load_cold()
    pred = [int(f) for f in flags([e.text for e in dev])]
    return {"screener": metrics([e.label for e in dev], pred)}


if __name__ == "__main__":
    main()
