"""Text features for the coder: normalisation, analysers and a small TF-IDF vectoriser.

Written out (not scikit-learn's TfidfVectorizer) so the stored index is plain arrays and a
word list, readable by any numpy/scipy version, and a query never loads a pickled model.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy import sparse

_WORD_RE = re.compile(r"[a-z0-9]+")
# Apostrophes join ("Sheriff's" -> "sheriffs"): O*NET and SOC spell them differently.
_APOSTROPHES = str.maketrans("", "", "'\u2019\u2018`")

# English function words (after scikit-learn's list, shortened): they carry no occupation.
STOP_WORDS = frozenset(
    """a about above across after again against all almost alone along already also although always am among an
    and another any anyone anything are around as at be became because become been before being below between
    both but by can could did do does doing done down during each either else enough etc even ever every for
    from further get give had has have he her here hers him his how however i if in into is it its itself just
    keep last least less made many may me more most much must my neither no nor not now of off often on once one
    only onto or other others otherwise our out over own per perhaps please rather same see seem several she
    should since so some such than that the their them then there these they this those though through thus to
    too toward towards under until up upon us very via was we well were what whatever when where whether which
    while who whole whom whose why will with within without would yet you your""".split()
)


def normalize(text: str) -> str:
    """Lower-case, fold compatibility characters and apostrophes, and keep letters and digits only."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_APOSTROPHES)
    return " ".join(_WORD_RE.findall(text))


def words(text: str) -> list[str]:
    return _WORD_RE.findall(normalize(text))


def title_word_features(text: str) -> list[str]:
    """Words, word pairs, the head noun (the last word) and head-with-modifier pairs of a title.

    "Machine Learning Engineer" gives H=engineer and H=engineer|machine: the head decides most
    occupations ("... Supervisor", "... Operator"), the modifiers pick among them.
    """
    ws = words(text)
    feats = ws + [f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False)]
    if ws:
        head = ws[-1]
        feats.append(f"H={head}")
        feats.extend(f"H={head}|{w}" for w in ws[:-1])
    return feats


def char_features(text: str, low: int = 2, high: int = 4) -> list[str]:
    """Character n-grams inside space-padded words, as scikit-learn's analyzer="char_wb"."""
    feats: list[str] = []
    for w in normalize(text).split():
        w = f" {w} "
        for n in range(low, high + 1):
            if len(w) <= n:
                feats.append(w)
                break
            feats.extend(w[i : i + n] for i in range(len(w) - n + 1))
    return feats


def context_features(text: str) -> list[str]:
    """Words and word pairs of a sentence, without English function words."""
    ws = [w for w in words(text) if w not in STOP_WORDS and not w.isdigit()]
    return ws + [f"{a} {b}" for a, b in zip(ws, ws[1:], strict=False)]


ANALYZERS: dict[str, Callable[[str], list[str]]] = {
    "title_words": title_word_features,
    "title_chars": char_features,
    "context": context_features,
}


class Vectorizer:
    """Sublinear TF-IDF over one analyser's features, rows L2-normalised (scikit-learn's defaults)."""

    def __init__(self, analyzer: str, vocabulary: Sequence[str], idf: np.ndarray) -> None:
        self.analyzer = analyzer
        self.vocabulary = list(vocabulary)
        self.index = {f: i for i, f in enumerate(self.vocabulary)}
        self.idf = np.asarray(idf, dtype=np.float32)

    @classmethod
    def fit(cls, analyzer: str, texts: Sequence[str], min_df: int = 1) -> Vectorizer:
        """Learn the vocabulary (features in at least `min_df` texts) and smoothed IDF from `texts`."""
        analyse = ANALYZERS[analyzer]
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(analyse(text)))
        vocabulary = sorted(f for f, n in df.items() if n >= min_df)
        n_docs = len(texts)
        idf = np.array([math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in vocabulary], dtype=np.float32)
        return cls(analyzer, vocabulary, idf)

    @property
    def size(self) -> int:
        return len(self.vocabulary)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Return the L2-normalised TF-IDF rows of `texts`; unknown features are ignored."""
        analyse, index = ANALYZERS[self.analyzer], self.index
        indptr, indices, values = [0], [], []
        for text in texts:
            counts = Counter(f for f in analyse(text) if f in index)
            indices.extend(index[f] for f in counts)
            values.extend(counts.values())
            indptr.append(len(indices))
        col = np.asarray(indices, dtype=np.int32)
        val = np.asarray(values, dtype=np.float32)
        if val.size:
            val = (1.0 + np.log(val)) * self.idf[col]
        matrix = sparse.csr_matrix((val, col, np.asarray(indptr, dtype=np.int64)), shape=(len(texts), self.size))
        return _l2_rows(matrix)


def _l2_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags((1.0 / norms).astype(np.float32)) @ matrix
