"""BERT's WordPiece tokenizer, from the model's own ``vocab.txt``: texts → ``input_ids`` /
``attention_mask`` / ``token_type_ids`` for an ONNX export of a BERT classifier (the model port).

It follows the reference BERT tokenizer (``BasicTokenizer`` + ``WordpieceTokenizer``): control
characters dropped, whitespace split, every CJK character its own token, punctuation split off,
optional lower-casing with accents stripped, then greedy longest-match word pieces (``##`` marks
a continuation); a word with no pieces is ``[UNK]``. Chinese BERTs (bert-base-chinese,
chinese-roberta-wwm-ext, MacBERT) tokenise Chinese one character at a time, so this is exact for
them on Chinese text.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cvguard.errors import DataError

MAX_WORD_CHARS = 100  # longer "words" are [UNK], as in the reference tokenizer
_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


class WordPiece:
    """A BERT tokenizer over a ``vocab.txt`` (one token a line; the line number is its id)."""

    def __init__(self, vocab: dict[str, int], *, lower: bool = True, max_tokens: int = 128) -> None:
        missing = [t for t in _SPECIAL if t not in vocab]
        if missing:
            raise DataError(f"the vocabulary lacks {', '.join(missing)}")
        self.vocab = vocab
        self.lower = lower
        self.max_tokens = max(3, max_tokens)
        self.pad, self.unk, self.cls, self.sep = (vocab[t] for t in _SPECIAL)

    @staticmethod
    def load(path: Path, *, lower: bool = True, max_tokens: int = 128) -> WordPiece:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the vocabulary: {exc}", where=str(path)) from None
        vocab: dict[str, int] = {}
        for i, token in enumerate(lines):
            vocab.setdefault(token.rstrip("\r"), i)
        return WordPiece(vocab, lower=lower, max_tokens=max_tokens)

    def words(self, text: str) -> list[str]:
        """The reference ``BasicTokenizer``: clean, split CJK and punctuation, lower-case."""
        spaced: list[str] = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r"):
                continue
            if ch.isspace() or unicodedata.category(ch) == "Zs":
                spaced.append(" ")
            elif _is_cjk(cp):
                spaced.append(f" {ch} ")
            else:
                spaced.append(ch)
        out: list[str] = []
        for word in "".join(spaced).split():
            if self.lower:
                word = "".join(
                    c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn"
                )
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        out.append(current)
                    out.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                out.append(current)
        return out

    def pieces(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def ids(self, text: str) -> list[int]:
        """``[CLS] pieces… [SEP]``, cut to ``max_tokens``."""
        body: list[int] = []
        limit = self.max_tokens - 2
        for word in self.words(text):
            body.extend(self.pieces(word))
            if len(body) >= limit:
                break
        return [self.cls, *body[:limit], self.sep]

    def encode(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """``input_ids``, ``attention_mask`` and ``token_type_ids`` (int64, padded to the longest)."""
        rows = [self.ids(t) for t in texts]
        width = max((len(r) for r in rows), default=2)
        input_ids = np.full((len(rows), width), self.pad, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(mask)}
