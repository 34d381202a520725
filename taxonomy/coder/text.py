"""Text features for the coder: normalisation, analysers and a small TF-IDF vectoriser.

Written out (not scikit-learn's TfidfVectorizer) so the stored index is plain arrays and a
word list, readable by any numpy/scipy version, and a query never loads a pickled model.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence

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


# Role titles carry seniority and level words that O*NET's titles rarely do; each costs the coder
# points of top-5, so queries drop them (never the reference). A seniority word is dropped only
# where it opens the title, and kept before the next words with which it names an occupation of
# its own: "Lead Abatement Worker" is about the metal, "Junior High School Principal" about the
# school. The measurements behind these lists are in docs/architecture.md#role-titles.
_SENIOR_KEPT_BEFORE = frozenset({"adult", "adults", "citizen", "citizens"})
_JUNIOR_KEPT_BEFORE = frozenset({"high", "college"})
_LEAD_KEPT_BEFORE = frozenset(
    {"abatement", "applier", "based", "burner", "caster", "die", "former", "furnace", "handler", "miner", "oxide",
     "paint", "setter", "sprinkler", "tank"}
)
_SENIORITY_PREFIXES: dict[tuple[str, ...], frozenset[str]] = {
    ("senior",): _SENIOR_KEPT_BEFORE,
    ("sr",): _SENIOR_KEPT_BEFORE,
    ("junior",): _JUNIOR_KEPT_BEFORE,
    ("jr",): _JUNIOR_KEPT_BEFORE,
    ("lead",): _LEAD_KEPT_BEFORE,
    ("principal",): frozenset({"investigator"}),
    ("staff",): frozenset({"assistant", "development", "services"}),
    ("associate",): frozenset(),
    ("entry", "level"): frozenset(),
    ("mid", "level"): frozenset(),
}
# What a bracketed or trailing qualifier may consist of ("(Part-Time)", ", Senior", " - Remote"):
# terms of employment, seniority words and grades. No parenthesis in O*NET's titles is made of these alone.
_QUALIFIER_WORDS = frozenset(
    """part full time remote hybrid contract contractor temporary temp on site onsite freelance seasonal
    permanent fixed term per diem to hire senior sr junior jr lead principal staff associate entry mid level
    grade band tier""".split()
)
_GRADE_RE = re.compile(r"i{1,3}|iv|[1-9]|l[0-9]{1,2}")
# A trailing grade, with its "Level" word if any; not the "I" of "E and I" or "EMT-I", nor a bare "Level 2".
_GRADE_TAIL_RE = re.compile(
    r"(?<!\band)(?<!\bor)(?<!&)(?<!\blevel)(?<!\bgrade)(?<!\bband)(?<!\btier)"
    r" (?:(?:level|grade|band|tier) )?(?:i{1,3}|iv|[1-9]|l[0-9]{1,2})$",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"[^\W_]+")
_BRACKETED_RE = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]")
_SEPARATOR_RE = re.compile(r"\s*,\s*|\s[-\u2013\u2014|]+\s")
_LETTER_RE = re.compile(r"[^\W\d_]")
_TIDY_CHARS = " ,;:|-\u2013\u2014"


def normalize_role_title(text: str) -> str:
    """Drop the seniority and level words a role title carries and O*NET's titles do not.

    "Senior Data Scientist II (Remote)" gives "Data Scientist": leading seniority words ("Senior",
    "Sr.", "Lead", "Principal", "Staff", "Junior", "Jr.", "Associate", "Entry-Level", "Mid-Level"),
    a trailing grade ("I" to "IV", "1" to "9", "L3", "Level 2") and qualifiers in brackets or after a
    comma or dash ("(Part-Time)", ", Senior", " - Remote"). Each rule applies only while a word with
    a letter is left, so no title becomes empty; applying it twice changes nothing more.
    """
    title = " ".join(text.split())
    if not _LETTER_RE.search(title):
        return title
    while True:
        stripped = next((t for t in _strip_candidates(title) if t != title and _LETTER_RE.search(t)), title)
        if stripped == title:
            return title
        title = stripped


def _strip_candidates(title: str) -> Iterator[str]:
    """Yield `title` without one qualifier, trailing grade or leading seniority word, in that order."""
    for match in _BRACKETED_RE.finditer(title):
        if _is_qualifier(match.group(1)):
            yield _tidy(title[: match.start()] + " " + title[match.end() :])
    separators = list(_SEPARATOR_RE.finditer(title))
    if separators and _is_qualifier(title[separators[-1].end() :]):
        yield _tidy(title[: separators[-1].start()])
    grade = _GRADE_TAIL_RE.search(title)
    if grade:
        yield _tidy(title[: grade.start()])
    tokens = list(_TOKEN_RE.finditer(title))
    folded = [t.group().casefold() for t in tokens]
    for phrase, kept_before in _SENIORITY_PREFIXES.items():
        n = len(phrase)
        if tuple(folded[:n]) == phrase and len(tokens) > n and folded[n] not in kept_before:
            yield _tidy(title[tokens[n].start() :])


def _is_qualifier(text: str) -> bool:
    found = words(text)
    return bool(found) and all(w in _QUALIFIER_WORDS or _GRADE_RE.fullmatch(w) for w in found)


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(_TIDY_CHARS)


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
