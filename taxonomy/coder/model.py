"""The coder's model: two multinomial naive Bayes channels over TF-IDF features, fused, with evidence.

- Title channel: trained on every reference title (SOC, O*NET-SOC, BLS direct-match, O*NET
  alternate and short titles) with word, head-noun and character 2-4-gram features.
- Context channel: trained on task statements, occupation descriptions and titles with word
  and word-pair features; it reads the role's title and aliases, and, with a larger weight,
  its components and story.

The channels' log posteriors are added and turned into a score by a softmax with a
temperature, so the scores of one query sum to at most 1 and roughly track how often the
top suggestion is right. The method was chosen by measurement against word and character
TF-IDF, BM25, their fusion, a linear SGD model and an embedding model: see bench/bench_soc.py.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .reference import CONTEXT_KINDS, KINDS, TITLE_KINDS, Reference
from .text import Vectorizer, char_features, normalize_role_title, words

METHOD = "nb-fusion"
# Bump when features, weights, query preparation or the stored layout change: it is part of the
# index hash and of the coder version stored with each role's suggestions.
METHOD_VERSION = f"{METHOD}-3"

TITLE_ALPHA = 0.01
CONTEXT_ALPHA = 0.003
TITLE_CONTEXT_WEIGHT = 1.0  # The context channel reading the title and aliases.
BODY_WEIGHT = 3.0  # The context channel reading components and story.
ALIAS_WEIGHT = 1.0  # The title channel over the aliases (their mean).
# Softmax temperatures, chosen on the development split so that the mean top score is close to
# top-1 accuracy (title-only: 0.52 vs 0.55; with a body the channels agree more, hence higher).
TEMPERATURE = 4.0
BODY_TEMPERATURE = 6.0
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
EVIDENCE_QUOTE_CHARS = 90

_KIND_LABELS = {
    "soc": "SOC title",
    "onet": "O*NET-SOC title",
    "direct": "BLS direct-match title",
    "alt": "O*NET alternate title",
    "short": "O*NET short title",
    "task": "task",
    "desc": "O*NET description",
}


@dataclass(frozen=True)
class PreparedQuery:
    """The bounded texts of one query, as the channels read them."""

    title: str
    aliases: tuple[str, ...]
    body: str  # Components and story, joined.


@dataclass
class NaiveBayes:
    """Multinomial naive Bayes kept sparse: only (feature, class) pairs seen in training are stored.

    log p(f|c) = log(N_cf + a) - log(N_c + a V); for an unseen pair this is log a - log(N_c + a V),
    so the joint log-likelihood is X @ W + sum(X) * unseen + prior with W = log(N_cf + a) - log a.
    """

    weights: sparse.csr_matrix  # features x classes
    unseen: np.ndarray  # per class
    prior: np.ndarray  # per class

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

    def log_posterior(self, x: sparse.csr_matrix) -> np.ndarray:
        """Return log p(class | x) for each row of x (rows x classes)."""
        jll = np.asarray((x @ self.weights).todense(), dtype=np.float64)
        jll += np.asarray(x.sum(axis=1), dtype=np.float64) * self.unseen + self.prior
        return jll - _logsumexp(jll)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    top = a.max(axis=1, keepdims=True)
    return top + np.log(np.exp(a - top).sum(axis=1, keepdims=True))


@dataclass
class Model:
    """Everything a query needs: vectorisers, the two channels and the sorted reference rows."""

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

    # Building -------------------------------------------------------------------------------

    @classmethod
    def build(cls, reference: Reference) -> Model:
        """Fit both channels on `reference`; raises ValueError when it holds no rows."""
        codes = sorted(reference.soc_titles)
        class_of = {c: i for i, c in enumerate(codes)}
        rows = sorted(reference.rows, key=lambda r: (class_of[r.soc_code], KINDS.index(r.kind), r.text))
        titles = [r for r in rows if r.kind in TITLE_KINDS]
        contexts = [r for r in rows if r.kind in CONTEXT_KINDS]
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

        return cls(
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

    # Querying -------------------------------------------------------------------------------

    def rank(self, queries: Sequence[PreparedQuery], k: int) -> list[list[tuple[int, float]]]:
        """Return the top-k (class, score) pairs of each query, best first; [] for an unanswerable one."""
        if not queries:
            return []
        titles = [q.title for q in queries]
        t_words = self.title_words.transform(titles)
        t_chars = self.title_chars.transform(titles)
        logp = self.title_nb.log_posterior(sparse.hstack([t_words, t_chars]).tocsr())

        alias_texts = [a for q in queries for a in q.aliases]
        if alias_texts:
            a_matrix = sparse.hstack([self.title_words.transform(alias_texts), self.title_chars.transform(alias_texts)])
            a_post = self.title_nb.log_posterior(a_matrix.tocsr())
            start = 0
            for i, q in enumerate(queries):
                n = len(q.aliases)
                if n:
                    logp[i] += ALIAS_WEIGHT * a_post[start : start + n].mean(axis=0)
                start += n

        name_texts = [" ".join((q.title, *q.aliases)) for q in queries]
        logp += TITLE_CONTEXT_WEIGHT * self.context_nb.log_posterior(self.context.transform(name_texts))
        with_body = [i for i, q in enumerate(queries) if q.body]
        if with_body:
            body_post = self.context_nb.log_posterior(self.context.transform([queries[i].body for i in with_body]))
            logp[with_body] += BODY_WEIGHT * body_post

        answerable = self._answerable(queries, t_chars)
        temperature = np.array([BODY_TEMPERATURE if q.body else TEMPERATURE for q in queries])[:, None]
        scaled = logp / temperature
        probs = np.exp(scaled - _logsumexp(scaled))
        k = max(0, min(k, len(self.codes)))
        top = np.argpartition(-probs, k - 1, axis=1)[:, :k] if k else np.empty((len(queries), 0), dtype=int)
        result = []
        for i in range(len(queries)):
            if not answerable[i]:
                result.append([])
                continue
            best = sorted(top[i], key=lambda c: (-probs[i, c], c))
            result.append([(int(c), float(min(1.0, max(0.0, probs[i, c])))) for c in best])
        return result

    def _answerable(self, queries: Sequence[PreparedQuery], t_chars: sparse.csr_matrix) -> list[bool]:
        """A query is answered when a word of it is known, or its title looks like a known title."""
        known = self.context.index
        tw = self.title_words.index
        out = []
        for i, q in enumerate(queries):
            texts = (q.title, *q.aliases, q.body)
            if any(w in known or w in tw for t in texts for w in words(t)):
                out.append(True)
                continue
            if not char_features(q.title):
                out.append(False)
                continue
            sims = self.title_docs_chars @ t_chars[i].T
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
        lo, hi = self.context_ptr[cls], self.context_ptr[cls + 1]
        if hi > lo:
            body = " ".join(filter(None, (query.body, query.title, *query.aliases)))
            sims = (self.context.transform([body]) @ self.context_docs[lo:hi].T).toarray().ravel()
            # Without a body only a task that plainly echoes the title is worth quoting.
            for j in _best(sims, EVIDENCE_CONTEXT if query.body else 1, floor=0.1 if query.body else 0.25):
                kind, text, shown = self.context_rows[lo + j]
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
        for name in ("title_nb", "context_nb"):
            nb = getattr(self, name)
            _put_sparse(arrays, f"{name}.weights", nb.weights)
            arrays[f"{name}.unseen"] = nb.unseen
            arrays[f"{name}.prior"] = nb.prior
        for name in ("title_words", "title_chars", "context"):
            vec = getattr(self, name)
            arrays[f"{name}.vocabulary"] = _pack_strings(vec.vocabulary)
            arrays[f"{name}.idf"] = vec.idf
        arrays["title_ptr"] = self.title_ptr
        arrays["context_ptr"] = self.context_ptr
        arrays["codes"] = _pack_strings(self.codes)
        arrays["soc_titles"] = _pack_strings(self.soc_titles)
        for name in ("title_rows", "context_rows"):
            rows = getattr(self, name)
            arrays[f"{name}.kind"] = np.array([r[0] for r in rows], dtype=np.int8)
            arrays[f"{name}.text"] = _pack_strings([r[1] for r in rows])
            arrays[f"{name}.code"] = _pack_strings([r[2] for r in rows])
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> Model:
        def vec(name: str) -> Vectorizer:
            return Vectorizer(name_of[name], _unpack_strings(arrays[f"{name}.vocabulary"]), arrays[f"{name}.idf"])

        def nb(name: str) -> NaiveBayes:
            return NaiveBayes(_get_sparse(arrays, f"{name}.weights"), arrays[f"{name}.unseen"], arrays[f"{name}.prior"])

        def rows(name: str) -> list[tuple[int, str, str]]:
            kinds = arrays[f"{name}.kind"].tolist()
            texts, codes = _unpack_strings(arrays[f"{name}.text"]), _unpack_strings(arrays[f"{name}.code"])
            return list(zip(kinds, texts, codes, strict=True))

        name_of = {"title_words": "title_words", "title_chars": "title_chars", "context": "context"}
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
        )


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
    return PreparedQuery(name(title), tuple(a for a in alias_list if a), body)


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
