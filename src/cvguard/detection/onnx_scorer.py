"""A plug-in model in an ONNX file, run in-process by onnxruntime (``pip install 'cvguard[onnx]'``).

The contract (docs/MODEL.md, "Plugging in your own model"), one of two input forms:

- **text in**: one input, a 1-D string tensor of the texts (any name, e.g. ``text``); for graphs
  that carry their own tokenizer (onnxruntime-extensions) or any string model;
- **token ids in**: ``input_ids`` and ``attention_mask`` (int64 ``[batch, tokens]``; also
  ``token_type_ids`` if the graph has it), what a BERT classifier exported to ONNX takes; the
  settings then name the model's ``vocab.txt`` and cvguard tokenises (:mod:`.wordpiece`).

and the output: ``score`` (probabilities: ``[batch]``, ``[batch, 1]``, or ``[batch, classes]``
with class 0 the safe class) or else ``logits`` (``[batch, 1]``: sigmoid; ``[batch, classes]``:
softmax, class 0 safe), else the first output read as probabilities. P(violation) is
``1 − P(class 0)`` for several classes.

A file that does not load does not stop screening: every call then fails with reason ``load``
(the cascade falls back to the built-in model and says so) and loading is tried again on the
next call the cascade lets through, so a replaced file is picked up.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cvguard.detection.port import PluginConfigError, PluginFailure
from cvguard.detection.wordpiece import WordPiece

log = logging.getLogger(__name__)
_TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _probabilities(out: np.ndarray, logits: bool) -> np.ndarray:
    """P(violation) per row from the output's shape (see the module docstring)."""
    arr = np.asarray(out, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        return 1.0 / (1.0 + np.exp(-arr)) if logits else arr
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise PluginFailure("malformed", f"the output has shape {list(arr.shape)}")
    if logits:
        shifted = np.exp(arr - arr.max(axis=1, keepdims=True))
        arr = shifted / shifted.sum(axis=1, keepdims=True)
    return np.asarray(1.0 - arr[:, 0])


class OnnxScorer:
    """Scores texts with an ONNX model (see the module docstring for the contract)."""

    def __init__(
        self,
        path: Path,
        *,
        vocab: Path | None = None,
        name: str | None = None,
        max_tokens: int = 128,
        threads: int = 1,
    ) -> None:
        try:
            import onnxruntime  # noqa: F401  (an optional dependency: say so at startup)
        except ImportError:
            raise PluginConfigError(
                "an ONNX plug-in needs onnxruntime: pip install 'cvguard[onnx]'"
            ) from None
        if not path.is_file():
            raise PluginConfigError(f"the plug-in model {path} is not a file")
        self.path = path
        self.name = name or path.stem
        self._tokenizer = WordPiece.load(vocab, max_tokens=max_tokens) if vocab is not None else None
        self._threads = threads
        self._session: Any = None
        self._load_error = ""
        self._lock = threading.Lock()
        self.version = "unloaded"
        self._load()

    def _load(self) -> None:
        import onnxruntime as ort

        try:
            data = self.path.read_bytes()
            opts = ort.SessionOptions()
            # one core per call, like the built-in model; the platform's GPU when onnxruntime has one
            opts.intra_op_num_threads = self._threads
            opts.inter_op_num_threads = 1
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
            session = ort.InferenceSession(data, opts, providers=providers)
            self._inputs = {i.name: i.type for i in session.get_inputs()}
            outputs = [o.name for o in session.get_outputs()]
            self._check_inputs()
        except PluginConfigError as exc:
            self._session, self._load_error = None, str(exc)
            raise
        except Exception as exc:  # a corrupt or foreign file: screening goes on without the plug-in
            self._session, self._load_error = None, f"{type(exc).__name__} loading {self.path.name}"
            log.error("model plug-in %s did not load (%s); the built-in model decides until it does",
                      self.name, self._load_error)
            return
        self._output = next((o for o in ("score", "logits") if o in outputs), outputs[0])
        meta = session.get_modelmeta()
        digest = hashlib.sha256(data).hexdigest()[:12]
        # the file's model_version when the exporter set one (unset reads 0 or INT64_MAX)
        set_version = 0 < meta.version < 2**63 - 1
        self.version = f"{meta.version}+sha256:{digest}" if set_version else f"sha256:{digest}"
        self._session, self._load_error = session, ""

    def _check_inputs(self) -> None:
        names = set(self._inputs)
        if "input_ids" in names:
            if self._tokenizer is None:
                raise PluginConfigError(
                    f"{self.path.name} takes token ids: set CVGUARD_PLUGIN_VOCAB to its vocab.txt"
                )
            unknown = names - set(_TOKEN_INPUTS)
            if unknown or "attention_mask" not in names:
                raise PluginConfigError(
                    f"{self.path.name}: a token-id model takes input_ids, attention_mask "
                    f"(and token_type_ids); it asks for {sorted(names)}"
                )
        elif len(names) != 1 or next(iter(self._inputs.values())) != "tensor(string)":
            raise PluginConfigError(
                f"{self.path.name}: expected one string input (texts) or input_ids + attention_mask, "
                f"got {sorted(f'{n}: {t}' for n, t in self._inputs.items())}"
            )

    def score(self, texts: Sequence[str]) -> Sequence[float]:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
            if self._session is None:
                raise PluginFailure("load", self._load_error)
        if self._tokenizer is not None and "input_ids" in self._inputs:
            encoded = self._tokenizer.encode(texts)
            feeds: dict[str, np.ndarray] = {k: encoded[k] for k in self._inputs}
        else:
            feeds = {next(iter(self._inputs)): np.array(list(texts), dtype=object)}
        try:
            out = self._session.run([self._output], feeds)[0]
        except Exception as exc:
            raise PluginFailure("error", f"{type(exc).__name__} running {self.path.name}") from None
        probs = _probabilities(out, self._output == "logits")
        if probs.shape[0] != len(texts):
            raise PluginFailure("malformed", f"{probs.shape[0]} scores for {len(texts)} texts")
        return [float(p) for p in probs]
