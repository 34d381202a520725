"""The coder's model: three multinomial naive Bayes channels over TF-IDF features, fused, with evidence.

- Title channel: trained on every reference title (SOC, O*NET-SOC, BLS direct-match, O*NET
  alternate and short titles) with word, head-noun and character 2-4-gram features; the fusion
  also reads its word and its character features apart.
- Context channel: trained on task statements, occupation descriptions and titles with word
  and word-pair features; it reads the role's title and aliases, and, apart, its components
  and story (the body).
- Work channel: trained on O*NET's technology products and their commodity classes, with the
  same features; it reads the names and, apart, the body: cards name tools (TensorFlow, Epic,
  AutoCAD) in their skills and knowledge. Its evidence also quotes O*NET's detailed work
  activities (DWAs), which say in general words what a card's responsibilities say in its own.

Each query's candidate codes (the best CANDIDATES by a plain sum of the channels) are scored by
a conditional logit over the channels' log posteriors and ranks, whose weights were fitted on a
development split when the index was built; a logistic (Platt) map then turns the candidate's
probability into the calibrated chance that the code is right. Both are fitted separately for
titles alone and for queries with a body; see taxonomy/coder/calibration.py. The method was
chosen by measurement against word and character TF-IDF, BM25, their fusion, a linear SGD model
and an embedding model: see bench/bench_soc.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from . import semantic
from .calibration import (
    apply_platt,
    choose_thresholds,
    cross_validated_ece,
    development_split,
    expected_calibration_error,
    fit_fusion,
    fit_platt,
    softmax_rows,
)
from .reference import CONTEXT_KINDS, KINDS, TITLE_KINDS, WORK_KINDS, Reference
from .text import Vectorizer, char_features, normalize_role_title, words

METHOD = "nb-fusion"
# Bump when features, weights, query preparation or the stored layout change: it is part of the
# index hash and of the coder version stored with each role's suggestions.
METHOD_VERSION = f"{METHOD}-5"

TITLE_ALPHA = 0.01
CONTEXT_ALPHA = 0.003
WORK_ALPHA = 0.003
ALIAS_WEIGHT = 1.0  # The title channel over the aliases (their mean), added to the title's.
# Candidates per query: the codes the fusion scores, picked by a plain sum of the channels' log
# posteriors (title + name context + 3 x body context + body work). On the development split the
# right code is among them for 97% of titles and 99.8% of cards; the rest are counted as misses.
CANDIDATES = 64
# The work channel learns from the technology rows only; the DWAs are its evidence. On the
# development split, DWAs as training texts of the work channel (-0.4 points of card top-1), of the
# context channel (-2.7) or of a channel of their own (fitted weight 0) never helped: they are
# shared across occupations, and a card's tasks already match the task statements they generalise.
WORK_NB_KINDS = ("tech", "commodity")
PRE_RANK_BODY_WEIGHT = 3.0
# The semantic channel's part in that sum (its scores are in units of its smooth maximum's
# temperature): about the weights a fusion of it with the plain sum learned on the development split.
PRE_RANK_SEMANTIC = (0.75, 1.3)  # title, body
# Channel scores enter the fusion relative to each channel's best code and floored, twice: near
# the top (-10) and far (-100). With a weight >= 0 on each, the fusion is a monotone piecewise-linear
# function of each channel's log posterior, so one channel sure of a wrong code cannot push a
# candidate arbitrarily far. One floor measured worse on the development split: -10 alone gave
# cards +2 points of top-1 and titles 5 points less coverage at 0.90 precision; -100 alone the reverse.
SCORE_FLOORS = (-10.0, -100.0)
# The fusion's inputs, in this order: each channel's floored log posteriors and its rank, -log(1 + rank).
# The title channel also counts as two, its word features alone and its character n-grams alone:
# on the development split that gave cards 1.5 points of top-1 (titles alone: no change).
# The semantic channel's title and body scores (taxonomy/coder/semantic.py) come last; without the
# extra they are silent (zero), their fitted weights are zero and the coder answers as without them.
CHANNELS = ("title", "name", "body", "work_name", "work_body", "title_words", "title_chars", "sem_title", "sem_body")
FEATURES = (
    tuple(f"score{-int(f)}:{c}" for f in SCORE_FLOORS for c in CHANNELS) + tuple(f"rank:{c}" for c in CHANNELS)
)
# A query whose words are all unknown is answered only when it still looks like a title.
MIN_CHAR_SIMILARITY = 0.5

# Bounds on the query, so that one call stays fast whatever it is given.
MAX_TITLE_CHARS = 300
MAX_ALIASES = 50
MAX_COMPONENTS = 200
MAX_ITEM_CHARS = 500
MAX_BODY_CHARS = 20_000

EVIDENCE_TITLES = 2
EVIDENCE_CONTEXT = 2
EVIDENCE_WORK = 1
EVIDENCE_QUOTE_CHARS = 90

_KIND_LABELS = {
    "soc": "SOC title",
    "onet": "O*NET-SOC title",
    "direct": "BLS direct-match title",
    "alt": "O*NET alternate title",
    "short": "O*NET short title",
    "task": "task",
    "desc": "O*NET description",
    "dwa": "O*NET work activity",
    "tech": "O*NET technology",
    "commodity": "O*NET technology class",
}
# Fewer development queries of a type than this and the fusion stays unfitted (tiny references).
MIN_DEVELOPMENT_QUERIES = 50


@dataclass(frozen=True)
class PreparedQuery:
    """The bounded texts of one query, as the channels read them."""

    title: str
    aliases: tuple[str, ...]
    body: str  # Components and story, joined.
    items: tuple[str, ...] = ()  # The body as the semantic channel reads it: components, the story's sentences.


@dataclass
class NaiveBayes:
    """Multinomial naive Bayes kept sparse: only (feature, class) pairs seen in training are stored.

    log p(f|c) = log(N_cf + a) - log(N_c + a V); for an unseen pair this is log a - log(N_c + a V),
    so the joint log-likelihood is X @ W + sum(X) * unseen + prior with W = log(N_cf + a) - log a.
    """

    weights: sparse.csr_matrix  # features x classes
    unseen: np.ndarray  # per class
    prior: np.ndarray  # per class
    _parts: dict = field(default_factory=dict, repr=False)

    @classmethod
    def fit(cls, x: sparse.csr_matrix, y: np.ndarray, n_classes: int, alpha: float) -> NaiveBayes:
        labels = sparse.csr_matrix(
            (np.ones(len(y), dtype=np.float32), (np.arange(len(y)), y)), shape=(len(y), n_classes)
        )
        counts = (x.T @ labels).tocsr()  # features x classes
        counts.data = np.log(counts.data.astype(np.float64) + alpha) - np.log(alpha)
        totals = np.asarray((labels.T @ x).sum(axis=1)).ravel()
        unseen = np.log(alpha) - np.log(totals + alpha * x.shape[1])
        docs = np.bincount(y, minlength=n_classes).astype(np.float64)
        prior = np.log(np.maximum(docs, 1e-3) / docs.sum())
        return cls(counts.astype(np.float32), unseen.astype(np.float32), prior.astype(np.float32))

    def log_posterior(self, x: sparse.csr_matrix, features: tuple[int, int] | None = None) -> np.ndarray:
        """Return log p(class | x) for each row of x (rows x classes), from the `features` range only."""
        if features is None:
            weights = self.weights
        else:
            # Sliced once: a slice of a CSR matrix is a copy.
            if features not in self._parts:
                self._parts[features] = self.weights[features[0] : features[1]].tocsr()
            weights = self._parts[features]
        jll = np.asarray((x @ weights).todense(), dtype=np.float64)
        jll += np.asarray(x.sum(axis=1), dtype=np.float64) * self.unseen + self.prior
        return jll - _logsumexp(jll)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1, keepdims=True)
    return top + np.log(np.exp(a - top).sum(axis=1, keepdims=True))


QUERY_TYPES = ("title", "body")  # A title (and aliases) alone; a query with components or a story.


@dataclass
class Fusion:
    """The fitted fusion and calibration, per query type: FEATURES weights, Platt (a, b), thresholds.

    `thresholds[type]` is (confident, unsure below, unsure when the top two are closer than).
    `report` holds the development split's figures, for the record (bench soc prints them).
    """

    weights: dict[str, np.ndarray]
    platt: dict[str, np.ndarray]
    thresholds: dict[str, np.ndarray]
    report: dict

    @classmethod
    def default(cls) -> Fusion:
        """Unfitted: the plain sum of the channels with a temperature, and no flags (tiny references)."""
        title = np.zeros(len(FEATURES))
        title[[FEATURES.index("score100:title"), FEATURES.index("score100:name")]] = 1 / 4
        body = np.zeros(len(FEATURES))
        body[[FEATURES.index("score100:title"), FEATURES.index("score100:name")]] = 1 / 6
        body[FEATURES.index("score100:body")] = 3 / 6
        never = np.array([1.01, 0.0, 0.0])
        return cls({"title": title, "body": body}, {t: np.array([1.0, 0.0]) for t in QUERY_TYPES},
                   {t: never.copy() for t in QUERY_TYPES}, {"fitted": False})


@dataclass(frozen=True)
class Ranked:
    """One query's answer: (class, calibrated score) best first, and the flags on its first code."""

    classes: list[tuple[int, float]]
    confident: bool = False
    unsure: bool = False


@dataclass
class Channels:
    """Each channel's log posterior over the classes for a batch of queries (queries x classes).

    `title` is the title channel over the title (plus the mean over the aliases), `name` the context
    channel over the title and aliases, `body` the context channel over components and story,
    `work_*` the work channel over each, `title_words` and `title_chars` the title channel's word
    and character features alone.
    """

    title: np.ndarray
    name: np.ndarray
    body: np.ndarray  # zeros for a query without a body
    work_name: np.ndarray
    work_body: np.ndarray
    has_body: np.ndarray  # bool per query
    title_words: np.ndarray
    title_chars: np.ndarray
    sem_title: np.ndarray  # zeros without the semantic channel
    sem_body: np.ndarray  # zeros without the semantic channel or without a body

    def pre_rank(self) -> np.ndarray:
        plain = self.title + self.name + PRE_RANK_BODY_WEIGHT * self.body + self.work_body
        return plain + PRE_RANK_SEMANTIC[0] * self.sem_title + PRE_RANK_SEMANTIC[1] * self.sem_body


@dataclass
class Model:
    """Everything a query needs: vectorisers, the channels, the fitted fusion and the sorted reference rows."""

    codes: list[str]  # detailed SOC codes, the classes
    soc_titles: list[str]
    title_words: Vectorizer
    title_chars: Vectorizer
    context: Vectorizer
    title_nb: NaiveBayes
    context_nb: NaiveBayes
    # Reference rows sorted by class: rows of class c are doc_ptr[c]:doc_ptr[c + 1].
    title_docs_words: sparse.csr_matrix
    title_docs_chars: sparse.csr_matrix
    title_ptr: np.ndarray
    context_docs: sparse.csr_matrix
    context_ptr: np.ndarray
    title_rows: list[tuple[int, str, str]]  # (kind, text, shown code)
    context_rows: list[tuple[int, str, str]]
    # The work channel; None when the reference has no work rows or they were put in the context channel.
    work: Vectorizer | None = None
    work_nb: NaiveBayes | None = None
    work_docs: sparse.csr_matrix | None = None
    work_ptr: np.ndarray | None = None
    work_rows: list[tuple[int, str, str]] = field(default_factory=list)
    fusion: Fusion = field(default_factory=Fusion.default)
    # The semantic channel's reference side; None when the coder was built without it.
    semantic_index: semantic.EmbeddingIndex | None = None

    # Building -------------------------------------------------------------------------------

    @classmethod
    def build(
        cls, reference: Reference, *, work: str = "channel", fit: bool = True, use_semantic: bool | None = None
    ) -> Model:
        """Fit the channels on `reference`, and the fusion on a development split carved from it.

        `work` is where the DWA and technology rows go: "channel" (their own), "context" (the
        context channel's training texts) or "none" (left out); bench soc measures all three.
        `use_semantic` adds the sentence-embedding channel (default: `semantic.enabled()`); every
        text is encoded once for both the development and the final channels.
        Raises ValueError when the reference holds no titles.
        """
        if use_semantic is None:
            use_semantic = semantic.enabled()
        vectors = semantic.TextVectors(semantic.encoder().encode) if use_semantic else None
        # The development channels go before the final ones are built: one set in memory at a time.
        fusion = fit_development_fusion(reference, work=work, vectors=vectors) if fit else None
        model = cls.fit_channels(reference, work=work, vectors=vectors)
        model.fusion = fusion or model.fusion
        return model

    @classmethod
    def fit_channels(
        cls, reference: Reference, *, work: str = "channel", vectors: semantic.TextVectors | None = None
    ) -> Model:
        """Fit the channels only (the fusion stays `Fusion.default()`); raises ValueError without titles.

        With `vectors` (encoder vectors by text) the semantic channel's index is built too.
        """
        codes = sorted(reference.soc_titles)
        class_of = {c: i for i, c in enumerate(codes)}
        rows = sorted(reference.rows, key=lambda r: (class_of[r.soc_code], KINDS.index(r.kind), r.text))
        titles = [r for r in rows if r.kind in TITLE_KINDS]
        context_kinds = CONTEXT_KINDS + (WORK_KINDS if work == "context" else ())
        contexts = [r for r in rows if r.kind in context_kinds]
        works = [r for r in rows if r.kind in WORK_KINDS] if work == "channel" else []
        if not titles:
            raise ValueError("The reference holds no titles: nothing to build a coder from.")
        title_texts = [r.text for r in titles]
        title_y = np.array([class_of[r.soc_code] for r in titles], dtype=np.int64)
        title_words = Vectorizer.fit("title_words", title_texts)
        title_chars = Vectorizer.fit("title_chars", title_texts, min_df=2 if len(titles) > 1000 else 1)
        docs_words = title_words.transform(title_texts)
        docs_chars = title_chars.transform(title_texts)
        title_nb = NaiveBayes.fit(sparse.hstack([docs_words, docs_chars]).tocsr(), title_y, len(codes), TITLE_ALPHA)

        # The context channel also reads titles: a body that names the occupation counts.
        context_texts = [r.text for r in contexts] + title_texts
        context_y = np.concatenate([np.array([class_of[r.soc_code] for r in contexts], dtype=np.int64), title_y])
        context = Vectorizer.fit("context", context_texts, min_df=2 if len(context_texts) > 1000 else 1)
        context_matrix = context.transform(context_texts)
        context_nb = NaiveBayes.fit(context_matrix, context_y, len(codes), CONTEXT_ALPHA)

        model = cls(
            codes=codes,
            soc_titles=[reference.soc_titles[c] for c in codes],
            title_words=title_words,
            title_chars=title_chars,
            context=context,
            title_nb=title_nb,
            context_nb=context_nb,
            title_docs_words=docs_words,
            title_docs_chars=docs_chars,
            title_ptr=_pointers(title_y, len(codes)),
            context_docs=context_matrix[: len(contexts)].tocsr(),
            context_ptr=_pointers(context_y[: len(contexts)], len(codes)),
            title_rows=[(KINDS.index(r.kind), r.text, r.source_code) for r in titles],
            context_rows=[(KINDS.index(r.kind), r.text, r.source_code) for r in contexts],
        )
        if works:
            work_texts = [r.text for r in works]
            work_y = np.array([class_of[r.soc_code] for r in works], dtype=np.int64)
            model.work = Vectorizer.fit("context", work_texts, min_df=2 if len(works) > 1000 else 1)
            model.work_docs = model.work.transform(work_texts)
            learn = np.array([r.kind in WORK_NB_KINDS for r in works])
            model.work_nb = NaiveBayes.fit(model.work_docs[learn], work_y[learn], len(codes), WORK_ALPHA)
            model.work_ptr = _pointers(work_y, len(codes))
            model.work_rows = [(KINDS.index(r.kind), r.text, r.source_code) for r in works]
        if vectors is not None:
            model.semantic_index = _semantic_index(titles, [r for r in rows if r.kind in SEMANTIC_CONTEXT_KINDS],
                                                   class_of, vectors)
        return model

    # Querying -------------------------------------------------------------------------------

    def channels(self, queries: Sequence[PreparedQuery], vectors: semantic.TextVectors | None = None) -> Channels:
        """Each channel's log posterior for each query; the work channel is zeros when there is none.

        The semantic channel encodes the queries with the process's encoder, or reads `vectors`
        (the build's cache) when given.
        """
        n = len(queries)
        t_words = self.title_words.transform([q.title for q in queries])
        t_chars = self.title_chars.transform([q.title for q in queries])
        title = self.title_nb.log_posterior(sparse.hstack([t_words, t_chars]).tocsr())
        alias_texts = [a for q in queries for a in q.aliases]
        if alias_texts:
            a_matrix = sparse.hstack([self.title_words.transform(alias_texts), self.title_chars.transform(alias_texts)])
            a_post = self.title_nb.log_posterior(a_matrix.tocsr())
            start = 0
            for i, q in enumerate(queries):
                if q.aliases:
                    title[i] += ALIAS_WEIGHT * a_post[start : start + len(q.aliases)].mean(axis=0)
                start += len(q.aliases)
        names = [" ".join((q.title, *q.aliases)) for q in queries]
        name = self.context_nb.log_posterior(self.context.transform(names))
        has_body = np.array([bool(q.body) for q in queries])
        body = np.zeros_like(title)
        work_name = np.zeros_like(title)
        work_body = np.zeros_like(title)
        rows = np.nonzero(has_body)[0]
        bodies = [queries[i].body for i in rows]
        if len(rows):
            body[rows] = self.context_nb.log_posterior(self.context.transform(bodies))
        if self.work is not None and self.work_nb is not None and n:
            work_name = self.work_nb.log_posterior(self.work.transform(names))
            if len(rows):
                work_body[rows] = self.work_nb.log_posterior(self.work.transform(bodies))
        n_words = self.title_words.size
        only_words = self.title_nb.log_posterior(t_words, (0, n_words))
        only_chars = self.title_nb.log_posterior(t_chars, (n_words, n_words + self.title_chars.size))
        sem_title = np.zeros_like(title)
        sem_body = np.zeros_like(title)
        if self.semantic_index is not None and n:
            encode = vectors.get if vectors is not None else semantic.encoder().encode
            sem_title, sem_body = semantic.semantic_scores(
                self.semantic_index, encode, [q.title for q in queries], [q.items for q in queries]
            )
        return Channels(title, name, body, work_name, work_body, has_body, only_words, only_chars, sem_title, sem_body)

    def rank(self, queries: Sequence[PreparedQuery], k: int) -> list[Ranked]:
        """Return each query's top-k (class, calibrated score) pairs, best first, and its flags.

        An unanswerable query gets an empty answer. At most CANDIDATES codes are ever returned.
        """
        if not queries:
            return []
        scores = self.channels(queries)
        candidates, features = candidate_features(scores)
        answerable = self._answerable(queries)
        probs = self.calibrated(candidates, features, scores.has_body)
        k = max(0, min(k, candidates.shape[1]))
        result = []
        for i in range(len(queries)):
            if not answerable[i] or not k:
                result.append(Ranked([]))
                continue
            order = np.argsort(-probs[i], kind="stable")
            ranked = [(int(candidates[i, j]), float(probs[i, j])) for j in order[:k]]
            kind = "body" if scores.has_body[i] else "title"
            top, second = float(probs[i, order[0]]), float(probs[i, order[1]])
            confident, unsure = flags(top, second, self.fusion.thresholds[kind])
            result.append(Ranked(ranked, confident, unsure))
        return result

    def calibrated(self, candidates: np.ndarray, features: np.ndarray, has_body: np.ndarray) -> np.ndarray:
        """The calibrated chance that each candidate is right (queries x candidates)."""
        out = np.zeros(candidates.shape, dtype=np.float64)
        for kind in QUERY_TYPES:
            rows = np.nonzero(has_body if kind == "body" else ~has_body)[0]
            if len(rows):
                p = softmax_rows(features[rows] @ self.fusion.weights[kind])
                out[rows] = np.clip(apply_platt(self.fusion.platt[kind], p), 0.0, 1.0)
        return out

    def _answerable(self, queries: Sequence[PreparedQuery]) -> list[bool]:
        """A query is answered when a word of it is known, or its title looks like a known title."""
        known = self.context.index
        tw = self.title_words.index
        work = self.work.index if self.work is not None else {}
        out = []
        for q in queries:
            texts = (q.title, *q.aliases, q.body)
            if any(w in known or w in tw or w in work for t in texts for w in words(t)):
                out.append(True)
                continue
            if not char_features(q.title):
                out.append(False)
                continue
            sims = self.title_docs_chars @ self.title_chars.transform([q.title]).T
            out.append(bool(sims.nnz) and float(sims.max()) >= MIN_CHAR_SIMILARITY)
        return out

    def evidence(self, query: PreparedQuery, cls: int) -> tuple[str, ...]:
        """Return the reference rows of class `cls` most like the query, quoted, best first."""
        code = self.codes[cls]
        items: list[str] = []
        lo, hi = self.title_ptr[cls], self.title_ptr[cls + 1]
        if hi > lo:
            names = [query.title, *query.aliases]
            sims = 0.5 * (self.title_words.transform(names) @ self.title_docs_words[lo:hi].T) + 0.5 * (
                self.title_chars.transform(names) @ self.title_docs_chars[lo:hi].T
            )
            best = np.asarray(sims.max(axis=0).todense()).ravel()
            for j in _best(best, EVIDENCE_TITLES, floor=0.2):
                kind, text, shown = self.title_rows[lo + j]
                items.append(f"{_KIND_LABELS[KINDS[kind]]} '{text}' ({shown})")
        body = " ".join(filter(None, (query.body, query.title, *query.aliases)))
        lo, hi = self.context_ptr[cls], self.context_ptr[cls + 1]
        if hi > lo:
            sims = (self.context.transform([body]) @ self.context_docs[lo:hi].T).toarray().ravel()
            # Without a body only a task that plainly echoes the title is worth quoting.
            for j in _best(sims, EVIDENCE_CONTEXT if query.body else 1, floor=0.1 if query.body else 0.25):
                kind, text, shown = self.context_rows[lo + j]
                items.append(f"{_KIND_LABELS[KINDS[kind]]}: '{_quote(text)}' ({shown})")
        if query.body and self.work is not None and self.work_docs is not None and self.work_ptr is not None:
            lo, hi = self.work_ptr[cls], self.work_ptr[cls + 1]
            if hi > lo:
                sims = (self.work.transform([body]) @ self.work_docs[lo:hi].T).toarray().ravel()
                for j in _best(sims, EVIDENCE_WORK, floor=0.15):
                    kind, text, shown = self.work_rows[lo + j]
                    items.append(f"{_KIND_LABELS[KINDS[kind]]}: '{_quote(text)}' ({shown})")
        if not items:
            # Nothing of the class resembles the query: name the occupation itself.
            items.append(f"SOC title '{self.soc_titles[cls]}' ({code})")
        return tuple(items)

    # Storing --------------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the model as named numpy arrays (for np.savez); `from_arrays` reads them back."""
        arrays: dict[str, np.ndarray] = {}
        for name in ("title_docs_words", "title_docs_chars", "context_docs"):
            _put_sparse(arrays, name, getattr(self, name))
        nbs = ["title_nb", "context_nb"] + (["work_nb"] if self.work_nb is not None else [])
        for name in nbs:
            nb = getattr(self, name)
            _put_sparse(arrays, f"{name}.weights", nb.weights)
            arrays[f"{name}.unseen"] = nb.unseen
            arrays[f"{name}.prior"] = nb.prior
        for name in ("title_words", "title_chars", "context") + (("work",) if self.work is not None else ()):
            vec = getattr(self, name)
            arrays[f"{name}.vocabulary"] = _pack_strings(vec.vocabulary)
            arrays[f"{name}.idf"] = vec.idf
        arrays["title_ptr"] = self.title_ptr
        arrays["context_ptr"] = self.context_ptr
        if self.work is not None:
            _put_sparse(arrays, "work_docs", self.work_docs)
            arrays["work_ptr"] = self.work_ptr
        arrays["codes"] = _pack_strings(self.codes)
        arrays["soc_titles"] = _pack_strings(self.soc_titles)
        for name in ("title_rows", "context_rows", "work_rows"):
            rows = getattr(self, name)
            arrays[f"{name}.kind"] = np.array([r[0] for r in rows], dtype=np.int8)
            arrays[f"{name}.text"] = _pack_strings([r[1] for r in rows])
            arrays[f"{name}.code"] = _pack_strings([r[2] for r in rows])
        for kind in QUERY_TYPES:
            arrays[f"fusion.weights.{kind}"] = self.fusion.weights[kind]
            arrays[f"fusion.platt.{kind}"] = self.fusion.platt[kind]
            arrays[f"fusion.thresholds.{kind}"] = self.fusion.thresholds[kind]
        arrays["fusion.report"] = _pack_strings([json.dumps(self.fusion.report)])
        if self.semantic_index is not None:
            arrays.update(self.semantic_index.to_arrays())
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> Model:
        def vec(name: str) -> Vectorizer:
            return Vectorizer(analyzer_of[name], _unpack_strings(arrays[f"{name}.vocabulary"]), arrays[f"{name}.idf"])

        def nb(name: str) -> NaiveBayes:
            return NaiveBayes(_get_sparse(arrays, f"{name}.weights"), arrays[f"{name}.unseen"], arrays[f"{name}.prior"])

        def rows(name: str) -> list[tuple[int, str, str]]:
            kinds = arrays[f"{name}.kind"].tolist()
            texts, codes = _unpack_strings(arrays[f"{name}.text"]), _unpack_strings(arrays[f"{name}.code"])
            return list(zip(kinds, texts, codes, strict=True))

        analyzer_of = {"title_words": "title_words", "title_chars": "title_chars", "context": "context",
                       "work": "context"}
        has_work = "work.vocabulary" in arrays
        fusion = Fusion(
            weights={k: arrays[f"fusion.weights.{k}"] for k in QUERY_TYPES},
            platt={k: arrays[f"fusion.platt.{k}"] for k in QUERY_TYPES},
            thresholds={k: arrays[f"fusion.thresholds.{k}"] for k in QUERY_TYPES},
            report=json.loads(_unpack_strings(arrays["fusion.report"])[0]),
        )
        return cls(
            codes=_unpack_strings(arrays["codes"]),
            soc_titles=_unpack_strings(arrays["soc_titles"]),
            title_words=vec("title_words"),
            title_chars=vec("title_chars"),
            context=vec("context"),
            title_nb=nb("title_nb"),
            context_nb=nb("context_nb"),
            title_docs_words=_get_sparse(arrays, "title_docs_words"),
            title_docs_chars=_get_sparse(arrays, "title_docs_chars"),
            title_ptr=arrays["title_ptr"],
            context_docs=_get_sparse(arrays, "context_docs"),
            context_ptr=arrays["context_ptr"],
            title_rows=rows("title_rows"),
            context_rows=rows("context_rows"),
            work=vec("work") if has_work else None,
            work_nb=nb("work_nb") if has_work else None,
            work_docs=_get_sparse(arrays, "work_docs") if has_work else None,
            work_ptr=arrays["work_ptr"] if has_work else None,
            work_rows=rows("work_rows"),
            fusion=fusion,
            semantic_index=semantic.EmbeddingIndex.from_arrays(arrays, semantic.TAU)
            if "embed.title_ptr" in arrays else None,
        )


def candidate_features(scores: Channels) -> tuple[np.ndarray, np.ndarray]:
    """Each query's CANDIDATES best codes by the plain sum, and their FEATURES (queries x candidates x features)."""
    pre = scores.pre_rank()
    n, n_classes = pre.shape
    k = min(CANDIDATES, n_classes)
    top = np.argpartition(-pre, k - 1, axis=1)[:, :k]
    # Candidates in a fixed order (best first) so that ties resolve the same way every time.
    order = np.argsort(-np.take_along_axis(pre, top, axis=1), axis=1, kind="stable")
    candidates = np.take_along_axis(top, order, axis=1)
    features = np.zeros((n, k, len(FEATURES)))
    rows = np.arange(n)[:, None]
    positions = np.arange(n_classes)
    m = len(CHANNELS)
    for j, channel in enumerate(CHANNELS):
        logp = getattr(scores, channel)
        relative = (logp - logp.max(axis=1, keepdims=True))[rows, candidates]
        for i, floor in enumerate(SCORE_FLOORS):
            features[:, :, i * m + j] = np.maximum(relative, floor)
        ranks = np.empty_like(top, shape=logp.shape)
        ranks[rows, np.argsort(-logp, axis=1, kind="stable")] = positions
        features[:, :, len(SCORE_FLOORS) * m + j] = -np.log1p(ranks[rows, candidates])
        # A channel that did not read anything (no body, no work channel) says nothing.
        silent = ~np.any(logp, axis=1)
        features[silent, :, j :: m] = 0.0
    return candidates, features


def flags(top: float, second: float, thresholds: np.ndarray) -> tuple[bool, bool]:
    """(confident, unsure) for an answer whose two best scores are `top` and `second`."""
    confident_at, low, close = (float(v) for v in thresholds)
    confident = top >= confident_at
    unsure = not confident and (top < low or top - second < close)
    return confident, unsure


def fit_development_fusion(
    reference: Reference, *, work: str = "channel", vectors: semantic.TextVectors | None = None
) -> Fusion | None:
    """Fit the fusion, calibration and thresholds on the development split of `reference`.

    None when the split is too small to fit on (a handful of rows, as in some tests).
    """
    split = development_split(reference)
    if len(split.title_queries) < MIN_DEVELOPMENT_QUERIES or len(split.card_queries) < MIN_DEVELOPMENT_QUERIES:
        return None
    try:
        dev_model = Model.fit_channels(split.fit_reference, work=work, vectors=vectors)
    except ValueError:
        return None
    class_of = {c: i for i, c in enumerate(dev_model.codes)}
    fusion = Fusion.default()
    report: dict = {"fitted": True, "features": list(FEATURES)}
    for kind, queries in (("title", split.title_queries), ("body", split.card_queries)):
        # Filled in place, in float32: the features of every development query are the build's peak memory.
        x = np.zeros((len(queries), min(CANDIDATES, len(dev_model.codes)), len(FEATURES)), dtype=np.float32)
        g = np.zeros(x.shape[:2], dtype=bool)
        for start in range(0, len(queries), 256):
            chunk = queries[start : start + 256]
            prepared = [prepare(q.title, (), q.tasks, "") for q in chunk]
            cand, x[start : start + len(chunk)] = candidate_features(dev_model.channels(prepared, vectors))
            for i, (row, q) in enumerate(zip(cand, chunk, strict=True)):
                g[start + i] = np.isin(row, [class_of[c] for c in q.gold if c in class_of])
        weights = fit_fusion(x, g)
        p = softmax_rows((x @ weights.astype(x.dtype)).astype(np.float64))
        top = p.max(axis=1)
        order = np.argsort(-p, axis=1, kind="stable")
        correct = g[np.arange(len(g)), order[:, 0]]
        second_correct = g[np.arange(len(g)), order[:, 1]]
        platt = fit_platt(top, correct)
        scores = np.sort(apply_platt(platt, p), axis=1)[:, ::-1]
        thresholds = choose_thresholds(scores[:, 0], scores[:, 1], correct, second_correct)
        unsure = np.array([flags(a, b, thresholds)[1] for a, b in scores[:, :2]])
        fusion.weights[kind], fusion.platt[kind], fusion.thresholds[kind] = weights, platt, thresholds
        report[kind] = {
            "queries": len(queries),
            "gold_in_candidates": float(g.any(axis=1).mean()),
            "top1": float(correct.mean()),
            "ece_before_platt": expected_calibration_error(top, correct),
            "ece": expected_calibration_error(scores[:, 0], correct),
            "thresholds": [float(v) for v in thresholds],
            **cross_validated_ece(top, correct),
            "confident_share": float(np.mean(scores[:, 0] >= thresholds[0])),
            "confident_precision": float(correct[scores[:, 0] >= thresholds[0]].mean())
            if np.any(scores[:, 0] >= thresholds[0]) else 0.0,
            "unsure_share": float(np.mean(unsure)),
            "unsure_precision": float(correct[unsure].mean()) if unsure.any() else 0.0,
        }
    report["development"] = {"titles": len(split.title_keys), "tasks": len(split.task_ids)}
    fusion.report = report
    return fusion


def prepare(
    title: str, aliases: Sequence[str], components: Sequence[str], story: str, *, role_titles: bool = True
) -> PreparedQuery:
    """Bound and clean a query's texts: long inputs are cut, non-strings dropped.

    With `role_titles` (the coder's way; bench soc also measures without) the title and aliases
    lose the seniority and level words that the reference's titles rarely carry
    (`normalize_role_title`). The reference itself is never normalised so.
    """

    def clip(value: object, limit: int) -> str:
        return " ".join(value[: limit * 2].split())[:limit] if isinstance(value, str) else ""

    def name(value: object) -> str:
        text = clip(value, MAX_TITLE_CHARS)
        return normalize_role_title(text) if role_titles else text

    alias_list = [name(a) for a in list(aliases or ())[:MAX_ALIASES]]
    parts = [clip(c, MAX_ITEM_CHARS) for c in list(components or ())[:MAX_COMPONENTS]]
    parts.append(clip(story, MAX_BODY_CHARS))
    body = " ".join(p for p in parts if p)[:MAX_BODY_CHARS]
    items = semantic.body_items(parts[:-1], parts[-1])
    return PreparedQuery(name(title), tuple(a for a in alias_list if a), body, items)


# The semantic channel matches body items against these rows (technology names and DWAs measured no better).
SEMANTIC_CONTEXT_KINDS = ("task", "desc")


def _semantic_index(
    titles, contexts, class_of: dict[str, int], vectors: semantic.TextVectors
) -> semantic.EmbeddingIndex:
    """The semantic channel's reference side: distinct (text, class) rows of titles and of tasks and descriptions."""

    def distinct(rows) -> tuple[list[str], np.ndarray]:
        pairs = list(dict.fromkeys((r.text, class_of[r.soc_code]) for r in rows))
        return [t for t, _ in pairs], np.array([c for _, c in pairs], dtype=np.int64)

    title_texts, title_y = distinct(titles)
    context_texts, context_y = distinct(contexts)
    return semantic.EmbeddingIndex.build(
        vectors.get(title_texts), title_y, vectors.get(context_texts), context_y, len(class_of),
        tau=semantic.TAU, dims=semantic.DIMS if len(title_texts) + len(context_texts) > 4 * semantic.DIMS else None,
    )


def _best(values: np.ndarray, n: int, floor: float) -> list[int]:
    order = np.argsort(-values, kind="stable")[:n]
    return [int(j) for j in order if values[j] >= floor]


def _quote(text: str) -> str:
    return text if len(text) <= EVIDENCE_QUOTE_CHARS else text[: EVIDENCE_QUOTE_CHARS - 1].rstrip() + "…"


def _pointers(y: np.ndarray, n_classes: int) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(np.bincount(y, minlength=n_classes))]).astype(np.int64)


def _put_sparse(arrays: dict[str, np.ndarray], name: str, matrix: sparse.csr_matrix) -> None:
    matrix = matrix.tocsr()
    arrays[f"{name}.data"] = matrix.data.astype(np.float32)
    arrays[f"{name}.indices"] = matrix.indices.astype(np.int32)
    arrays[f"{name}.indptr"] = matrix.indptr.astype(np.int64)
    arrays[f"{name}.shape"] = np.array(matrix.shape, dtype=np.int64)


def _get_sparse(arrays, name: str) -> sparse.csr_matrix:
    shape = tuple(int(v) for v in arrays[f"{name}.shape"])
    return sparse.csr_matrix((arrays[f"{name}.data"], arrays[f"{name}.indices"], arrays[f"{name}.indptr"]), shape=shape)


def _pack_strings(items: Sequence[str]) -> np.ndarray:
    # One UTF-8 blob: a vocabulary of 10^5 features loads in milliseconds, and nothing is pickled.
    return np.frombuffer(json.dumps(list(items), ensure_ascii=False).encode("utf-8"), dtype=np.uint8)


def _unpack_strings(blob: np.ndarray) -> list[str]:
    return json.loads(io.BytesIO(blob.tobytes()).getvalue().decode("utf-8"))
