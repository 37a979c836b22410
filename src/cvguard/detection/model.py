"""The trained text model: a linear classifier over hashed TF-IDF views, stored without pickle.

The artifact is one ``.npz`` file read with ``allow_pickle=False``: per view the kept hash buckets,
their IDF and linear weights, plus a JSON metadata blob (version, training data fingerprints,
feature settings, calibration, figures). Scores are calibrated probabilities (Platt scaling fitted
on out-of-fold decisions at training time).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np

from cvguard.detection.features import BUCKETS, NGRAMS, TextFeatures, hashed, hashed_at
from cvguard.errors import ModelError

DEFAULT_DIR = Path(__file__).parent / "data" / "model"
FORMAT = "cvguard-hashed-text/1"
# How term frequency enters a view. "occurrence": every n-gram occurrence adds its IDF and the
# norm runs over occurrences, so no sort is needed to count duplicates (the production setting:
# it is what lets a batch be scored in a few numpy passes). "sublinear": 1 + log(count).
TF = "occurrence"


def tf_counts(doc: np.ndarray, bucket: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """De-duplicated ``(doc, bucket, count)``."""
    keys, counts = np.unique(doc * np.int64(BUCKETS) + bucket, return_counts=True)
    return keys // BUCKETS, keys % BUCKETS, counts


@dataclass
class HashedView:
    """IDF of one view over its hash buckets; a bucket with IDF 0 is outside the vocabulary."""

    idf: np.ndarray  # float64[BUCKETS]

    @staticmethod
    def fit(doc: np.ndarray, bucket: np.ndarray, n_docs: int, *, min_df: int = 2) -> HashedView:
        _, b, _ = tf_counts(doc, bucket)
        df = np.bincount(b, minlength=BUCKETS)
        idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
        idf[df < min_df] = 0.0
        return HashedView(idf=idf)

    def weighted(
        self, doc: np.ndarray, bucket: np.ndarray, n: int, tf: str = "sublinear"
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(doc, bucket, value)``: TF-IDF (see ``TF``), L2-normalised per document, in-vocabulary only."""
        if tf == "occurrence":
            # Every occurrence counts once and the norm runs over occurrences: no sort needed.
            d, b, val = doc, bucket, self.idf[bucket]
        else:
            d, b, counts = tf_counts(doc, bucket)
            val = (1.0 + np.log(counts)) * self.idf[b]
        keep = val > 0
        d, b, val = d[keep], b[keep], val[keep]
        norm = np.sqrt(np.bincount(d, val * val, minlength=n))
        norm[norm == 0] = 1.0
        return d, b, val / norm[d]


@dataclass
class LinearTextModel:
    """A binary linear model over the views; ``predict_proba`` gives calibrated P(offensive)."""

    views: dict[str, HashedView]
    weights: dict[str, np.ndarray]  # float64[BUCKETS] per view
    bias: float
    platt: tuple[float, float]  # P = 1 / (1 + exp(a * d + b))
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unversioned"))

    @property
    def tf(self) -> str:
        return str(self.meta.get("tf", "sublinear"))

    def decision(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        """Raw linear scores for a batch: per view, the L2-normalised sublinear TF-IDF vector · w.

        Same arithmetic as ``HashedView.weighted`` followed by a dot product, arranged for speed:
        the norm and the dot product are summed per document first and divided once, and the
        gathers read float32 copies of IDF and weights (half the cache footprint).
        """
        n = len(feats)
        total = np.full(n, self.bias, dtype=np.float64)
        if not n:
            return total
        for v in self.views:
            idf, w = self._gather_tables[v]
            d, b = hashed(v, feats)
            if self.tf == "occurrence":
                x = idf[b]
            else:
                d, b, counts = tf_counts(d, b)
                x = (1.0 + np.log(counts, dtype=np.float32)) * idf[b]
            norm = np.sqrt(np.bincount(d, x * x, minlength=n))
            norm[norm == 0] = 1.0
            total += np.bincount(d, x * w[b], minlength=n) / norm
        return total

    @cached_property
    def _gather_tables(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {
            v: (view.idf.astype(np.float32), self.weights[v].astype(np.float32))
            for v, view in self.views.items()
        }

    def predict_proba(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        return _platt(self.platt, self.decision(feats))

    def top_ngrams(self, feats: Sequence[TextFeatures], k: int = 3) -> list[list[tuple[str, float, int]]]:
        """Per text, the character n-grams that pushed its score up most (for explanations):
        ``(n-gram, contribution, start in the normalised text)``."""
        if not feats:
            return []
        doc, bucket, start, size = hashed_at("c", feats)
        contrib = self.weights["c"][bucket] * self.views["c"].idf[bucket]
        pos = contrib > 0
        doc, start, size, contrib = doc[pos], start[pos], size[pos], contrib[pos]
        order = np.lexsort((-contrib, doc))
        # Rank within each document; a few spares cover duplicates and blank n-grams.
        first = np.searchsorted(doc[order], doc[order], side="left")
        order = order[np.arange(len(order)) - first < k + 2]
        offsets = np.concatenate([[0], np.cumsum([len(f.c) for f in feats])])
        docs = doc[order].tolist()
        begins = (start[order] - offsets[doc[order]]).tolist()
        lengths = size[order].tolist()
        scores = contrib[order].tolist()
        out: list[list[tuple[str, float, int]]] = [[] for _ in feats]
        for r, s0, n, score in zip(docs, begins, lengths, scores, strict=True):
            picked = out[r]
            if len(picked) >= k:
                continue
            gram = feats[r].c[s0 : s0 + n]
            if gram.strip() and all(g != gram for g, _, _ in picked):
                picked.append((gram, score, s0))
        return out

    # --- persistence -------------------------------------------------------------------------
    #
    # The artifact must come out bit for bit the same from `cvguard train` on any x86 machine, but
    # the solver's last float64 digits depend on the CPU's vector units (AVX2 / AVX-512 paths in the
    # BLAS): weights within 1e-17 of zero and the 16th digit of the bias differ. So the artifact
    # keeps what matters and not that noise: weights below WEIGHT_FLOOR in size are zero (the
    # largest are ~5; such a weight moves no decision), scalars keep 10 significant digits.

    def save(self, path: Path) -> None:
        """Write the ``.npz`` artifact (no pickle; see the note above on reproducibility)."""
        arrays, meta = self._arrays()
        _write(path, arrays, meta)

    def _arrays(self, prefix: str = "") -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        for v, view in self.views.items():
            kept = np.flatnonzero(view.idf).astype(np.int32)
            arrays[f"{prefix}{v}.buckets"] = kept
            arrays[f"{prefix}{v}.idf"] = view.idf[kept].astype(np.float32)
            w = self.weights[v][kept].astype(np.float32)
            w[np.abs(w) < WEIGHT_FLOOR] = 0.0
            arrays[f"{prefix}{v}.w"] = w
        meta = dict(
            self.meta,
            format=FORMAT,
            bias=_stable(self.bias),
            platt=[_stable(x) for x in self.platt],
            views=list(self.views),
            buckets=BUCKETS,
            ngrams={v: NGRAMS[v] for v in self.views},
            tf=self.tf,
        )
        return arrays, meta

    @staticmethod
    def load(path: Path) -> LinearTextModel:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode("utf-8"))
                return LinearTextModel._from(z, meta, path)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load model artifact {path}: {exc}") from exc

    @staticmethod
    def _from(z: Any, meta: dict[str, Any], path: Path, prefix: str = "") -> LinearTextModel:
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
        if meta.get("buckets") != BUCKETS or meta.get("ngrams") != {v: NGRAMS[v] for v in meta["views"]}:
            raise ModelError(f"{path}: feature settings differ from this code; retrain (cvguard train)")
        views: dict[str, HashedView] = {}
        weights: dict[str, np.ndarray] = {}
        for v in meta["views"]:
            kept = z[f"{prefix}{v}.buckets"].astype(np.int64)
            idf = np.zeros(BUCKETS)
            idf[kept] = z[f"{prefix}{v}.idf"]
            w = np.zeros(BUCKETS)
            w[kept] = z[f"{prefix}{v}.w"]
            views[v], weights[v] = HashedView(idf=idf), w
        return LinearTextModel(
            views=views,
            weights=weights,
            bias=float(meta["bias"]),
            platt=(float(meta["platt"][0]), float(meta["platt"][1])),
            meta=meta,
        )


@dataclass
class CategoryHeads:
    """Which category an abusive text is, when no lexicon word says so: one calibrated
    one-vs-rest linear model per category, trained on abusive texts only, in one artifact."""

    heads: dict[str, LinearTextModel]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unversioned"))

    def predict(self, feats: Sequence[TextFeatures]) -> list[dict[str, float]]:
        """Per text, P(category | abusive) for every category the heads know.

        The heads are fitted on the same texts, so they share their views' IDF: the texts are
        hashed and weighted once and only the dot products are per head (the same arithmetic as
        ``LinearTextModel.decision``, so the same numbers)."""
        if not feats:
            return []
        if self._shared:
            decisions = self._decisions(feats)
        else:
            decisions = {code: head.decision(feats) for code, head in self.heads.items()}
        columns = {code: _platt(head.platt, decisions[code]).tolist() for code, head in self.heads.items()}
        return [{code: col[i] for code, col in columns.items()} for i in range(len(feats))]

    @cached_property
    def _shared(self) -> bool:
        heads = list(self.heads.values())
        first = heads[0]
        return first.tf == "occurrence" and all(
            h.tf == first.tf
            and list(h.views) == list(first.views)
            and all(np.array_equal(h.views[v].idf, first.views[v].idf) for v in first.views)
            for h in heads[1:]
        )

    def _decisions(self, feats: Sequence[TextFeatures]) -> dict[str, np.ndarray]:
        n = len(feats)
        first = next(iter(self.heads.values()))
        totals = {code: np.full(n, head.bias, dtype=np.float64) for code, head in self.heads.items()}
        for v in first.views:
            idf = first._gather_tables[v][0]
            d, b = hashed(v, feats)
            x = idf[b]
            norm = np.sqrt(np.bincount(d, x * x, minlength=n))
            norm[norm == 0] = 1.0
            for code, head in self.heads.items():
                totals[code] += np.bincount(d, x * head._gather_tables[v][1][b], minlength=n) / norm
        return totals

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        heads: dict[str, Any] = {}
        for code, head in self.heads.items():
            head_arrays, heads[code] = head._arrays(f"{code}/")
            arrays.update(head_arrays)
        _write(path, arrays, dict(self.meta, format=HEADS_FORMAT, heads=heads))

    @staticmethod
    def load(path: Path) -> CategoryHeads:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode("utf-8"))
                if meta.get("format") != HEADS_FORMAT:
                    raise ModelError(f"{path}: format {meta.get('format')!r}, expected {HEADS_FORMAT!r}")
                heads = {
                    code: LinearTextModel._from(z, head_meta, path, f"{code}/")
                    for code, head_meta in meta["heads"].items()
                }
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load category heads {path}: {exc}") from exc
        return CategoryHeads(heads=heads, meta={k: v for k, v in meta.items() if k != "heads"})


HEADS_FORMAT = "cvguard-category-heads/1"


def _write(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    arrays = dict(arrays)
    encoded = json.dumps(meta, ensure_ascii=False, sort_keys=True).encode()
    arrays["meta"] = np.frombuffer(encoded, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def artifact_path(lang: str, directory: Path = DEFAULT_DIR) -> Path:
    return directory / f"cvguard-text-{lang}.npz"


EVERYDAY = "zh-everyday"  # the everyday-abuse model's artifact name (training.train_everyday)
CATEGORIES = "zh-categories"  # the category heads' artifact name (training.train_category_heads)
STANCE = "zh-stance"  # the stance model's artifact name (training.train_stance)
# The stance model that has also learned abuse of a person (training.train_person_stance)
PERSON_STANCE = "zh-stance-person"
# Every artifact `cvguard train` writes, by name.
ARTIFACTS = ("zh", "en", EVERYDAY, STANCE, PERSON_STANCE, CATEGORIES)


@cache
def default_everyday() -> LinearTextModel | None:
    """The committed everyday-abuse model (Chinese abuse beyond COLD's topics), if present."""
    path = artifact_path(EVERYDAY)
    return LinearTextModel.load(path) if path.exists() else None


@cache
def default_stance() -> LinearTextModel | None:
    """The committed stance model (an attack, or speech against one?), if present."""
    path = artifact_path(STANCE)
    return LinearTextModel.load(path) if path.exists() else None


@cache
def default_person_stance() -> LinearTextModel | None:
    """The committed stance model for texts that name no group (attacks on a person learned too),
    if present."""
    path = artifact_path(PERSON_STANCE)
    return LinearTextModel.load(path) if path.exists() else None


@cache
def default_category_heads() -> CategoryHeads | None:
    """The committed category heads (which category a model-only flag is), if present."""
    path = artifact_path(CATEGORIES)
    return CategoryHeads.load(path) if path.exists() else None


@cache
def default_models() -> dict[str, LinearTextModel]:
    """The committed models by language (``zh``, ``en``); empty if the artifacts are absent."""
    return {
        lang: LinearTextModel.load(artifact_path(lang))
        for lang in ("zh", "en")
        if artifact_path(lang).exists()
    }


def _platt(platt: tuple[float, float], d: np.ndarray) -> np.ndarray:
    """Calibrated probabilities from raw decisions: P = 1 / (1 + exp(a * d + b))."""
    a, b = platt
    return np.asarray(1.0 / (1.0 + np.exp(np.clip(a * d + b, -50, 50))), dtype=np.float64)


WEIGHT_FLOOR = 1e-9


def _stable(x: float) -> float:
    return float(f"{x:.10g}")
