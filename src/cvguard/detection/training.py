"""Training and evaluation of the text models, reproducible from ``../shared/data``.

``cvguard train`` rebuilds the committed artifacts bit for bit from the same data and seed:
COLD (de-duplicated, dev texts removed from train) for Chinese, the Davidson tweets for English.
Training data is augmented with evasion perturbations (``perturb``) so the model learns to lean on
the views that survive dodging. ``cvguard eval --data FILE`` scores a labelled file.

This module needs scikit-learn (the ``train`` extra); production inference does not.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cvguard.detection.context import stance_cue
from cvguard.detection.features import BUCKETS, VIEWS, TextFeatures, hashed
from cvguard.detection.lexicon import Lexicon
from cvguard.detection.model import (
    ARTIFACTS,
    CATEGORIES,
    DEFAULT_DIR,
    EVERYDAY,
    PERSON_STANCE,
    STANCE,
    TF,
    CategoryHeads,
    HashedView,
    LinearTextModel,
    artifact_path,
)
from cvguard.detection.normalize import normalize
from cvguard.detection.perturb import FAMILIES, Perturber
from cvguard.detection.screen import prepare
from cvguard.detection.wild import (
    EVERYDAY_FILES,
    PERSON_STANCE_FILES,
    STANCE_FILES,
    TRAINABLE,
    WILD_DIR,
    load_suite,
)
from cvguard.errors import InputError

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
MODEL_VERSION = "2026.12.1"
TOPICS = ("race", "region", "gender")
VIEW_SCALES = {"c": 1.0, "m": 1.0, "p": 1.0}
NB = True
FIXTURE_REPEAT = 3


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: int
    topic: str
    origin: int = -1  # index of the example a perturbed copy was made from
    category: str = ""  # the taxonomy code, where the source labels one (fixtures)


def data_dir() -> Path:
    import os

    env = os.environ.get("CVGUARD_SHARED_DATA")
    return Path(env) if env else SHARED.resolve()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def load_cold(root: Path | None = None) -> tuple[list[Example], list[Example]]:
    """COLD train and dev; train de-duplicated and stripped of any text that is also in dev."""
    root = root or data_dir()

    def read(name: str) -> list[Example]:
        with (root / "cold" / name).open(encoding="utf-8-sig", newline="") as fh:
            return [Example(r["TEXT"], int(r["label"]), r["topic"]) for r in csv.DictReader(fh)]

    train, dev = read("train.csv"), read("dev.csv")
    dev_texts = {e.text for e in dev}
    seen: set[str] = set()
    clean = []
    for e in train:
        if e.text in dev_texts or e.text in seen:
            continue
        seen.add(e.text)
        clean.append(e)
    return clean, dev


def load_davidson(root: Path | None = None) -> list[Example]:
    root = root or data_dir()
    with (root / "davidson" / "labeled_data.csv").open(encoding="utf-8", newline="") as fh:
        return [Example(r["tweet"], int(r["class"] != "2"), "en") for r in csv.DictReader(fh)]


FIXTURES = Path(__file__).parent / "data" / "fixtures"


def load_fixtures(directory: Path = FIXTURES) -> tuple[list[Example], list[Example]]:
    """Project-written labelled texts, split for good: ``(train, held_out)``.

    A text goes to the held-out part when its SHA-256 falls in the last 30%, so the split never
    moves when rows are added elsewhere. The held-out part measures what COLD cannot: false
    positives on everyday traffic and recall on categories COLD lacks.
    """
    train: list[Example] = []
    held: list[Example] = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            if not line.strip():
                continue
            row = json.loads(line)
            topic = f"fixture:{row.get('lang', 'zh')}:{row['kind']}"
            example = Example(row["text"], int(row["label"]), topic, category=row.get("category", ""))
            bucket = int(hashlib.sha256(row["text"].encode("utf-8")).hexdigest()[:8], 16) % 10
            (held if bucket >= 7 else train).append(example)
    return train, held


def fixture_lang(e: Example) -> str:
    return e.topic.split(":")[1] if e.topic.startswith("fixture:") else "zh"


def featurize_all(texts: Sequence[str], lexicon: Lexicon) -> list[TextFeatures]:
    return [prepare(t, lexicon).features for t in texts]


def augment(examples: Sequence[Example], perturber: Perturber, *, share: float, seed: int) -> list[Example]:
    """The examples plus perturbed copies of a share of them (same labels)."""
    rng = random.Random(seed)
    out = [Example(e.text, e.label, e.topic, i) for i, e in enumerate(examples)]
    for i, e in enumerate(examples):
        if rng.random() < share:
            out.append(Example(perturber.apply(e.text, rng.choice(FAMILIES), rng), e.label, e.topic, i))
    return out


def design(
    feats: Sequence[TextFeatures], scales: dict[str, float], min_df: int = 2
) -> tuple[Any, dict[str, HashedView], dict[str, np.ndarray]]:
    """The training matrix (kept buckets only, views side by side) and, per view, its IDF and
    the kept bucket ids in column order."""
    from scipy import sparse

    n = len(feats)
    blocks = []
    views: dict[str, HashedView] = {}
    columns: dict[str, np.ndarray] = {}
    for v in VIEWS:
        if not scales.get(v):
            continue
        doc, bucket = hashed(v, feats)
        view = HashedView.fit(doc, bucket, n, min_df=min_df)
        kept = np.flatnonzero(view.idf)
        col = np.full(BUCKETS, -1, dtype=np.int64)
        col[kept] = np.arange(len(kept))
        d, b, val = view.weighted(doc, bucket, n, tf=TF)
        blocks.append(sparse.csr_matrix((val * scales[v], (d, col[b])), shape=(n, len(kept))))
        views[v], columns[v] = view, kept
    return sparse.hstack(blocks, format="csr"), views, columns


def fit_model(
    feats: Sequence[TextFeatures],
    labels: Sequence[int],
    *,
    c: float = 0.2,
    seed: int = 0,
    scales: dict[str, float] | None = None,
    nb: bool = NB,
    min_df: int = 2,
    loss: str = "squared_hinge",
    class_weight: str | None = None,
    calibrate: bool = True,
    groups: Sequence[int] | None = None,
    meta: dict[str, Any] | None = None,
) -> LinearTextModel:
    """``groups`` ties perturbed copies to their original so calibration folds never split them
    (a copy in the training fold would make held-out scores overconfident)."""
    from scipy import sparse
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_predict
    from sklearn.svm import LinearSVC

    y = np.asarray(labels)
    # A view's scale sets how much the regulariser lets it speak; it folds into the saved weights.
    scales = {**VIEW_SCALES, **(scales or {})}
    x, views, columns = design(feats, scales, min_df)
    # Naive-Bayes log-count ratios (NBSVM, Wang & Manning 2012) scale each feature by how
    # one-sided its class counts are; they fold into the saved weights like the view scales.
    ratio = _nb_ratio(x, y) if nb else np.ones(x.shape[1])
    x = sparse.csr_matrix(x.multiply(ratio.reshape(1, -1)))
    clf = LinearSVC(C=c, loss=loss, class_weight=class_weight, random_state=seed, max_iter=5000)
    clf.fit(x, y)
    platt = (-1.7, 0.0)
    if calibrate:
        svm = LinearSVC(C=c, loss=loss, class_weight=class_weight, random_state=seed, max_iter=5000)
        if groups is not None:
            d = cross_val_predict(
                svm, x, y, cv=GroupKFold(n_splits=3), groups=np.asarray(groups), method="decision_function"
            )
        else:
            folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
            d = cross_val_predict(svm, x, y, cv=folds, method="decision_function")
        platt = _fit_platt(np.asarray(d), y)
    w = clf.coef_.ravel() * ratio
    weights = {}
    off = 0
    for v, kept in columns.items():
        dense = np.zeros(BUCKETS)
        dense[kept] = w[off : off + len(kept)] * scales[v]
        weights[v] = dense
        off += len(kept)
    settings = {"C": c, "scales": scales, "nb": nb, "min_df": min_df, "loss": loss, "rows": len(y)}
    return LinearTextModel(
        views=views,
        weights=weights,
        bias=float(clf.intercept_[0]),
        platt=platt,
        meta={**(meta or {}), "training": settings, "tf": TF},
    )


def _nb_ratio(x: Any, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    pos = np.asarray(x[y == 1].sum(axis=0)).ravel() + alpha
    neg = np.asarray(x[y == 0].sum(axis=0)).ravel() + alpha
    return np.asarray(np.abs(np.log((pos / pos.sum()) / (neg / neg.sum()))), dtype=np.float64)


def _fit_platt(d: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Platt scaling: P(y=1|d) = 1 / (1 + exp(a·d + b)), fitted by logistic regression."""
    from sklearn.linear_model import LogisticRegression

    lr = LogisticRegression(C=1e4, max_iter=1000).fit(d.reshape(-1, 1), y)
    return float(-lr.coef_[0, 0]), float(-lr.intercept_[0])


def metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    yt = np.asarray(y_true)
    yp = np.asarray(y_pred)
    out: dict[str, float] = {"n": float(len(yt)), "accuracy": float((yt == yp).mean()) if len(yt) else 0.0}
    f1s = []
    for cls in (1, 0):
        tp = float(((yp == cls) & (yt == cls)).sum())
        fp = float(((yp == cls) & (yt != cls)).sum())
        fn = float(((yp != cls) & (yt == cls)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
        if cls == 1:
            out["precision"], out["recall"] = p, r
    out["macro_f1"] = float(np.mean(f1s))
    return {k: round(v, 4) for k, v in out.items()}


def train_zh(
    train: Sequence[Example],
    lexicon: Lexicon,
    *,
    seed: int,
    calibrate: bool = True,
    meta: dict[str, Any] | None = None,
    augment_share: float = 1.0,
) -> LinearTextModel:
    perturber = Perturber(e.text for e in train)
    data = augment(train, perturber, share=augment_share, seed=seed)
    meta = {**(meta or {}), "augment_share": augment_share}
    feats = featurize_all([e.text for e in data], lexicon)
    return fit_model(
        feats,
        [e.label for e in data],
        seed=seed,
        calibrate=calibrate,
        groups=[e.origin for e in data],
        meta=meta,
    )


def baseline_scores(train: Sequence[Example], test: Sequence[Example]) -> dict[str, float]:
    """The plain reference: character 1–3-gram TF-IDF + linear SVM on the raw text."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    x = vec.fit_transform([e.text for e in train])
    clf = LinearSVC(C=0.5, random_state=0).fit(x, [e.label for e in train])
    return metrics([e.label for e in test], clf.predict(vec.transform([e.text for e in test])).tolist())


def leave_one_topic_out(
    train: Sequence[Example],
    dev: Sequence[Example],
    lexicon: Lexicon,
    *,
    seed: int,
    with_baseline: bool = True,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train without one COLD topic, test on that topic's dev rows; for each topic."""
    out: dict[str, Any] = {}
    for topic in TOPICS:
        tr = [e for e in train if e.topic != topic]
        te = [e for e in dev if e.topic == topic]
        model = train_zh(tr, lexicon, seed=seed, calibrate=False)
        pred = (model.decision(featurize_all([e.text for e in te], lexicon)) > 0).astype(int).tolist()
        out[topic] = {"model": metrics([e.label for e in te], pred)}
        if with_baseline:
            out[topic]["baseline"] = baseline_scores(tr, te)
        log(f"loto {topic}: {out[topic]}")
    for key in ("model", "baseline") if with_baseline else ("model",):
        out[f"mean_macro_f1_{key}"] = round(float(np.mean([out[t][key]["macro_f1"] for t in TOPICS])), 4)
    return out


def train_main(out: Path | None = None, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train the committed artifacts; returns the figures recorded in their metadata.

    BLAS runs on one thread: a summation order that depends on the machine's core count would
    change the last bits of the calibration, and the artifacts must rebuild bit for bit anywhere.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _train(out, seed, log)


def _train(out: Path | None, seed: int, log: Callable[[str], None]) -> dict[str, Any]:
    root = data_dir()
    if not (root / "cold" / "train.csv").exists():
        raise InputError(f"training data not found under {root} (set CVGUARD_SHARED_DATA)")
    started = time.perf_counter()
    lexicon = Lexicon.default()
    out = out or DEFAULT_DIR
    train, dev = load_cold(root)
    train_cold = train
    fixtures, _ = load_fixtures()
    data_meta = {
        "cold/train.csv": _sha(root / "cold" / "train.csv"),
        "cold/dev.csv": _sha(root / "cold" / "dev.csv"),
        "fixtures (project-written, 70% train split)": _fixture_digest(),
    }
    # Fixtures are few beside COLD; repeating them (each repeat perturbed differently) lets them
    # speak for everyday traffic and the categories COLD lacks.
    train = train + [e for e in fixtures if fixture_lang(e) == "zh"] * FIXTURE_REPEAT
    meta = _meta(
        lexicon,
        seed,
        data_meta,
        len(train),
        "COLD (Deng et al., EMNLP 2022), Apache-2.0; project-written fixtures",
    )
    log(f"zh: training on {len(train)} COLD rows (+ perturbed copies)")
    zh = train_zh(train, lexicon, seed=seed, meta=meta)
    dev_pred = (zh.predict_proba(featurize_all([e.text for e in dev], lexicon)) >= 0.5).astype(int).tolist()
    zh.meta["dev"] = metrics([e.label for e in dev], dev_pred)
    log(f"zh dev: {zh.meta['dev']}")
    zh.save(artifact_path("zh", out))

    en_rows = load_davidson(root)
    rng = random.Random(seed)
    rng.shuffle(en_rows)
    cut = len(en_rows) // 5
    en_dev, en_train = (
        en_rows[:cut],
        en_rows[cut:] + [e for e in fixtures if fixture_lang(e) == "en"] * FIXTURE_REPEAT,
    )
    en_meta = _meta(
        lexicon,
        seed,
        {"davidson/labeled_data.csv": _sha(root / "davidson" / "labeled_data.csv")},
        len(en_train),
        "Davidson et al., ICWSM 2017, MIT",
        lang="en",
    )
    en = fit_model(
        featurize_all([e.text for e in en_train], lexicon),
        [e.label for e in en_train],
        seed=seed,
        # 77% of the tweets are offensive: without balancing, ordinary chat scores as abuse.
        class_weight="balanced",
        meta=en_meta,
    )
    en_pred = (en.predict_proba(featurize_all([e.text for e in en_dev], lexicon)) >= 0.5).astype(int).tolist()
    en.meta["dev"] = metrics([e.label for e in en_dev], en_pred)
    log(f"en held-out 20%: {en.meta['dev']}")
    en.save(artifact_path("en", out))
    everyday = train_everyday(train_cold, fixtures, lexicon, seed=seed)
    log(f"zh everyday: trained on {everyday.meta['train_rows']} rows")
    everyday.save(artifact_path(EVERYDAY, out))
    stance = train_stance(train_cold, fixtures, lexicon, seed=seed)
    log(f"zh stance: trained on {stance.meta['train_rows']} rows")
    stance.save(artifact_path(STANCE, out))
    person = train_person_stance(train_cold, fixtures, lexicon, seed=seed)
    log(f"zh stance (no group named): trained on {person.meta['train_rows']} rows")
    person.save(artifact_path(PERSON_STANCE, out))
    heads = train_category_heads(lexicon, seed=seed)
    log(f"zh category heads: {', '.join(heads.heads)} on {heads.meta['train_rows']} abusive rows")
    heads.save(artifact_path(CATEGORIES, out))
    return {
        "zh_dev": zh.meta["dev"],
        "en_heldout": en.meta["dev"],
        "seconds": round(time.perf_counter() - started, 1),
        "artifacts": [str(artifact_path(name, out)) for name in ARTIFACTS],
    }


# COLD rows the everyday model sees beside the project's data: enough for it to know ordinary
# COLD-like chat, few enough that the project's kinds of abuse are heard (docs/MODEL.md).
EVERYDAY_COLD_ROWS = 3000


def train_everyday(
    cold_train: Sequence[Example], fixtures: Sequence[Example], lexicon: Lexicon, *, seed: int
) -> LinearTextModel:
    """The everyday-abuse model: Chinese abuse beyond COLD's topics (looks, intelligence, family,
    fandom, provoking, sarcasm, oblique threats, defamation, harassment, doxxing, raids, contempt
    for groups COLD lacks) against safe texts on the same topics, harmless texts in the same
    sentence frames and counter-speech, from the fixtures' training split and the trainable files of
    ``data/wild`` (``wild.EVERYDAY_FILES``, of ``wild.TRAINABLE``), with a seeded sample of COLD
    train. The screener asks it only about texts the main model is unsure of, outside COLD's topics
    (screen.EVERYDAY_BAND)."""
    rows = [e for e in fixtures if fixture_lang(e) == "zh"]
    for name in EVERYDAY_FILES:
        rows += [Example(r.text, r.label, f"trainable:{name}") for r in load_suite(name)]
    sample = random.Random(seed).sample(list(cold_train), min(EVERYDAY_COLD_ROWS, len(cold_train)))
    meta = _meta(
        lexicon,
        seed,
        {
            "fixtures (project-written, 70% train split)": _fixture_digest(),
            **_trainable_digests(EVERYDAY_FILES),
            f"cold/train.csv (seeded sample of {len(sample)})": _sha(data_dir() / "cold" / "train.csv"),
        },
        len(rows) + len(sample),
        "project-written fixtures and training suites; COLD (Deng et al., EMNLP 2022), Apache-2.0",
    )
    return train_zh(rows + sample, lexicon, seed=seed, meta=meta)


# The project's stance texts are few beside COLD's: each is seen this many times (each repeat
# perturbed differently), as the fixtures are by the main model.
STANCE_REPEAT = 3


def _stance_rows(
    cold_train: Sequence[Example], fixtures: Sequence[Example], files: Sequence[str] = STANCE_FILES
) -> tuple[list[Example], list[Example]]:
    """What the stance models learn from: the project's rows (``files`` and the fixtures with a
    stance cue) and COLD train's rows with a stance cue."""

    def cued(rows: Sequence[Example]) -> list[Example]:
        return [e for e in rows if stance_cue(normalize(e.text).text)]

    project = [
        Example(r.text, r.label, f"trainable:{name}") for name in files for r in load_suite(name)
    ]
    project += cued([e for e in fixtures if fixture_lang(e) == "zh"])
    return project, cued(cold_train)


def train_stance(
    cold_train: Sequence[Example], fixtures: Sequence[Example], lexicon: Lexicon, *, seed: int
) -> LinearTextModel:
    """The stance model: for a Chinese text that uses the words of speech against discrimination
    (``context.stance_cue``), is it an attack (1) or speech against one (0)? Trained on the texts
    with such words only: the project's counter-speech files (``wild.STANCE_FILES``: speech
    against discrimination, and attacks wrapped in a defence), the fixtures, and COLD train, whose
    labels mark most such texts offensive, so the model keeps COLD's reading of COLD's kind of text
    (screen.STANCE_LINE)."""
    project, cold = _stance_rows(cold_train, fixtures)
    meta = _meta(
        lexicon,
        seed,
        {
            "fixtures (project-written, 70% train split, with a stance cue)": _fixture_digest(),
            **_trainable_digests(STANCE_FILES),
            f"cold/train.csv ({len(cold)} rows with a stance cue)": _sha(data_dir() / "cold" / "train.csv"),
        },
        len(project) + len(cold),
        "project-written counter-speech and fixtures; COLD (Deng et al., EMNLP 2022), Apache-2.0",
    )
    return train_zh(project * STANCE_REPEAT + cold, lexicon, seed=seed, meta=meta)


def train_person_stance(
    cold_train: Sequence[Example], fixtures: Sequence[Example], lexicon: Lexicon, *, seed: int
) -> LinearTextModel:
    """The stance model for flagged texts that name no group, hold no cue and no abusive word
    (screen.PERSON_STANCE_LINE): the stance model's rows with the pushback files
    (``wild.PERSON_STANCE_FILES``), and every abusive row of the everyday model's other files as
    an attack (threats, rumours, insults and mockery of a person). The stance model learned its
    attacks from group discrimination and reads an attack on a person as no attack; this one has
    seen them."""
    project, cold = _stance_rows(cold_train, fixtures, PERSON_STANCE_FILES)
    others = [name for name in EVERYDAY_FILES if name not in PERSON_STANCE_FILES]
    attacks = [
        Example(r.text, 1, f"trainable:{name}") for name in others for r in load_suite(name) if r.label
    ]
    meta = _meta(
        lexicon,
        seed,
        {
            "fixtures (project-written, 70% train split, with a stance cue)": _fixture_digest(),
            **_trainable_digests((*PERSON_STANCE_FILES, *others)),
            f"cold/train.csv ({len(cold)} rows with a stance cue)": _sha(data_dir() / "cold" / "train.csv"),
        },
        len(project) + len(attacks) + len(cold),
        "project-written counter-speech, abuse and fixtures; COLD (Deng et al., EMNLP 2022), Apache-2.0",
    )
    return train_zh(project * STANCE_REPEAT + attacks + cold, lexicon, seed=seed, meta=meta)


# What the category heads name: the taxonomy's categories for which the project has labelled
# abusive texts beyond the lexicon (discrimination and hate incitement are COLD's and the
# lexicon's to name).
HEAD_CATEGORIES = (
    "insult", "ridicule", "threat", "defamation", "sexual_harassment", "pile_on_incitement", "privacy"
)


def labelled_abuse() -> list[tuple[str, str]]:
    """``(text, category)`` of the Chinese abusive texts the project labelled by category: the
    fixtures' training split and the trainable files of ``data/wild``."""
    train, _ = load_fixtures()
    rows = [(e.text, e.category) for e in train if e.label and fixture_lang(e) == "zh"]
    for name in TRAINABLE:
        rows += [(r.text, r.category) for r in load_suite(name) if r.label]  # all Chinese
    return rows


def train_category_heads(lexicon: Lexicon, *, seed: int) -> CategoryHeads:
    """One calibrated one-vs-rest model per category of ``HEAD_CATEGORIES``, over the abusive texts
    of those categories (``labelled_abuse``), each with one perturbed copy: which kind of abuse a
    text is, once something has said it is abuse."""
    rows = [(text, code) for text, code in labelled_abuse() if code in HEAD_CATEGORIES]
    examples = [Example(text, 0, code) for text, code in rows]
    data = augment(examples, Perturber(text for text, _ in rows), share=1.0, seed=seed)
    feats = featurize_all([e.text for e in data], lexicon)
    groups = [e.origin for e in data]
    heads = {
        code: fit_model(
            feats,
            [int(e.topic == code) for e in data],
            seed=seed,
            groups=groups,
            meta={"version": MODEL_VERSION, "category": code},
        )
        for code in HEAD_CATEGORIES
    }
    meta = {
        "version": MODEL_VERSION,
        "lang": "zh",
        "seed": seed,
        "lexicon": lexicon.version,
        "train_rows": len(rows),
        "rows_by_category": {code: sum(1 for _, c in rows if c == code) for code in HEAD_CATEGORIES},
        "training_data": {
            "fixtures (project-written, 70% train split)": _fixture_digest(),
            **_trainable_digests(),
        },
    }
    return CategoryHeads(heads=heads, meta=meta)


def _trainable_digests(names: Sequence[str] = TRAINABLE) -> dict[str, str]:
    return {name: _sha(WILD_DIR / name) for name in names}


def _meta(
    lexicon: Lexicon, seed: int, data: dict[str, str], rows: int, credits: str, *, lang: str = "zh"
) -> dict[str, Any]:
    """A model's metadata: what it was trained on, with which seed and lexicon, and whom to credit."""
    return {
        "version": MODEL_VERSION,
        "lang": lang,
        "seed": seed,
        "lexicon": lexicon.version,
        "training_data": data,
        "train_rows": rows,
        "credits": credits,
    }


def _fixture_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(FIXTURES.glob("*.jsonl")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def read_labelled(path: Path) -> list[Example]:
    """A labelled file: COLD-style CSV (TEXT/text, label) or JSON lines with text and label."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    rows: list[Example] = []
    if path.suffix == ".jsonl":
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                rows.append(Example(str(obj["text"]), int(obj["label"]), str(obj.get("topic", ""))))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f'{path}:{n}: needs "text" and an integer "label" ({exc})') from exc
        return rows
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames or []
        text_col = next((c for c in ("TEXT", "text", "comment_text", "tweet") if c in cols), None)
        if text_col is None or "label" not in cols:
            raise InputError(f"{path}: needs a text column (TEXT/text) and a label column; has {cols}")
        for n, r in enumerate(reader, 2):
            try:
                rows.append(Example(r[text_col], int(r["label"]), r.get("topic", "")))
            except ValueError as exc:
                raise InputError(f"{path}:{n}: label must be 0 or 1") from exc
    return rows


def eval_main(data: Path) -> dict[str, Any]:
    """Accuracy, macro-F1, precision and recall of the model and of the full screener on FILE."""
    from cvguard.detection.screen import Screener

    rows = read_labelled(data)
    screener = Screener.default()
    labels = [e.label for e in rows]
    verdicts = []
    for i in range(0, len(rows), 512):
        verdicts += screener.screen_many([e.text for e in rows[i : i + 512]])
    out: dict[str, Any] = {"file": str(data), "rows": len(rows)}
    out["screener"] = metrics(labels, [int(v.violation) for v in verdicts])
    model = screener.models.get("zh")
    if model is not None:
        feats = featurize_all([e.text for e in rows], screener.lexicon)  # type: ignore[arg-type]
        out["model"] = metrics(labels, (model.predict_proba(feats) >= 0.5).astype(int).tolist())
    return out
