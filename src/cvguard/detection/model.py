"""The trained text model: a linear classifier over TF-IDF token views, stored without pickle.

The artifact is one ``.npz`` file read with ``allow_pickle=False``: per view a vocabulary (UTF-8
tokens joined by ``\\n``), IDF weights and linear weights, plus a JSON metadata blob (version,
training data fingerprints, calibration, metrics). Scores are calibrated probabilities
(Platt scaling fitted on out-of-fold decisions at training time).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse

from cvguard.detection.features import VIEWS, TextFeatures
from cvguard.errors import ModelError

DEFAULT_PATH = Path(__file__).parent / "data" / "model" / "cvguard-text.npz"
FORMAT = "cvguard-linear-text/1"


@dataclass
class ViewSpace:
    """Vocabulary and IDF of one view."""

    vocab: dict[str, int]
    idf: np.ndarray  # float32, one per vocabulary entry

    @staticmethod
    def fit(docs: Sequence[Sequence[str]], *, min_df: int = 2, max_features: int | None = None) -> ViewSpace:
        df: dict[str, int] = {}
        for tokens in docs:
            for t in set(tokens):
                df[t] = df.get(t, 0) + 1
        kept = [t for t, c in df.items() if c >= min_df]
        kept.sort(key=lambda t: (-df[t], t))
        if max_features is not None:
            kept = kept[:max_features]
        kept.sort()
        n = len(docs)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept], dtype=np.float32)
        return ViewSpace(vocab={t: i for i, t in enumerate(kept)}, idf=idf)

    def transform(self, docs: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        """Sublinear TF-IDF, L2-normalised per document."""
        get = self.vocab.get
        rows: list[int] = []
        cols: list[int] = []
        for r, tokens in enumerate(docs):
            ids = [i for i in map(get, tokens) if i is not None]
            cols.extend(ids)
            rows.extend([r] * len(ids))
        m = sparse.csr_matrix(
            (
                np.ones(len(cols), dtype=np.float32),
                (np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32)),
            ),
            shape=(len(docs), len(self.vocab)),
            dtype=np.float32,
        )
        m.sum_duplicates()
        np.log(m.data, out=m.data)
        m.data += 1.0
        m.data *= self.idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        m = sparse.csr_matrix(sparse.diags(1.0 / norms).dot(m), dtype=np.float32)
        return m


@dataclass
class LinearTextModel:
    """A binary linear model over the token views; ``predict_proba`` gives calibrated P(offensive)."""

    spaces: dict[str, ViewSpace]
    weights: dict[str, np.ndarray]
    bias: float
    platt: tuple[float, float]  # P = 1 / (1 + exp(a * d + b))
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unversioned"))

    def matrix(self, feats: Sequence[TextFeatures]) -> sparse.csr_matrix:
        blocks = [self.spaces[v].transform([getattr(f, v) for f in feats]) for v in VIEWS if v in self.spaces]
        return sparse.hstack(blocks, format="csr")

    @property
    def coef(self) -> np.ndarray:
        return np.concatenate([self.weights[v] for v in VIEWS if v in self.spaces])

    def decision(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        if not feats:
            return np.zeros(0, dtype=np.float64)
        total = np.full(len(feats), self.bias, dtype=np.float64)
        for v in VIEWS:
            if v in self.spaces:
                total += self.spaces[v].transform([getattr(f, v) for f in feats]) @ self.weights[v]
        return total

    def predict_proba(self, feats: Sequence[TextFeatures]) -> np.ndarray:
        a, b = self.platt
        d = self.decision(feats)
        return 1.0 / (1.0 + np.exp(np.clip(a * d + b, -50, 50)))

    def top_tokens(self, feats: TextFeatures, view: str = "c", k: int = 3) -> list[tuple[str, float]]:
        """The tokens of one view that pushed this text's score up most (for explanations)."""
        space = self.spaces[view]
        w = self.weights[view]
        seen: dict[str, float] = {}
        for t in getattr(feats, view):
            i = space.vocab.get(t)
            if i is not None and t not in seen:
                seen[t] = float(w[i] * space.idf[i])
        ranked = sorted(seen.items(), key=lambda kv: -kv[1])
        return [(t, s) for t, s in ranked[:k] if s > 0]

    # --- persistence -------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        arrays: dict[str, np.ndarray] = {}
        for v, space in self.spaces.items():
            tokens = sorted(space.vocab, key=space.vocab.__getitem__)
            if any("\n" in t for t in tokens):
                raise ModelError(f"view {v}: a token contains a newline")
            arrays[f"{v}.vocab"] = np.frombuffer("\n".join(tokens).encode("utf-8"), dtype=np.uint8)
            arrays[f"{v}.idf"] = space.idf.astype(np.float32)
            arrays[f"{v}.w"] = self.weights[v].astype(np.float32)
        meta = dict(self.meta, format=FORMAT, bias=self.bias, platt=list(self.platt), views=list(self.spaces))
        arrays["meta"] = np.frombuffer(
            json.dumps(meta, ensure_ascii=False, sort_keys=True).encode(), dtype=np.uint8
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    @staticmethod
    def load(path: Path) -> LinearTextModel:
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(bytes(z["meta"]).decode("utf-8"))
                if meta.get("format") != FORMAT:
                    raise ModelError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
                spaces: dict[str, ViewSpace] = {}
                weights: dict[str, np.ndarray] = {}
                for v in meta["views"]:
                    raw = bytes(z[f"{v}.vocab"]).decode("utf-8")
                    tokens = raw.split("\n") if raw else []
                    spaces[v] = ViewSpace(vocab={t: i for i, t in enumerate(tokens)}, idf=z[f"{v}.idf"])
                    weights[v] = z[f"{v}.w"].astype(np.float64)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load model artifact {path}: {exc}") from exc
        return LinearTextModel(
            spaces=spaces,
            weights=weights,
            bias=float(meta["bias"]),
            platt=(float(meta["platt"][0]), float(meta["platt"][1])),
            meta=meta,
        )


@cache
def default_models() -> dict[str, LinearTextModel]:
    """The committed models by language (``zh``, ``en``); empty if the artifact is absent."""
    out: dict[str, LinearTextModel] = {}
    for lang in ("zh", "en"):
        path = DEFAULT_PATH.with_name(f"cvguard-text-{lang}.npz")
        if path.exists():
            out[lang] = LinearTextModel.load(path)
    return out
