"""SOC coder: ranked, explained SOC 2018 detailed-code suggestions for a role or a title.

    from taxonomy.coder import CoderQuery, suggest
    suggest(CoderQuery(title="Data Engineer"), k=5)   # -> [Suggestion(code="15-1243", ...), ...]

The index is built from fixtures/reference/ (SOC 2018, O*NET 28.2 and BLS files) into
settings.ROLEBOOK_CODER_PATH by `manage.py build_coder`, and keyed on a SHA-256 of those
files and of the method version. Building it also fits the fusion and the score calibration on
a development split carved from the reference (taxonomy/coder/calibration.py) and stores them in
the index. A process loads it once, on first use; when it is missing or stale it is built then
(and logged) instead of failing. The method and its measured
accuracy: taxonomy/coder/model.py and `python -m bench soc`.

O*NET data is used under CC BY 4.0: see fixtures/reference/PROVENANCE.md for the attribution.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from . import semantic
from .model import METHOD, METHOD_VERSION, Model, prepare
from .reference import load_reference, reference_hash

__all__ = [
    "CoderQuery",
    "INDEX_FILE",
    "IndexInfo",
    "Suggestion",
    "build_index",
    "coder_version",
    "ensure_index",
    "index_status",
    "load_index",
    "reset_cache",
    "suggest",
    "suggest_many",
]

logger = logging.getLogger(__name__)

INDEX_FILE = "coder-index.npz"


@dataclass(frozen=True)
class CoderQuery:
    """What the coder reads about a role: its title, other titles, component sentences, its story."""

    title: str
    aliases: Sequence[str] = ()
    components: Sequence[str] = ()
    story: str = ""


@dataclass(frozen=True)
class Suggestion:
    """A detailed SOC 2018 code, its official title, a score and the reference rows behind it.

    `score` is the calibrated chance that the code is right: of the development split's answers
    scored 0.9, about 9 in 10 were. `confident` and `unsure` are set on an answer's first
    suggestion only (False on the others), never both: confident when its score reaches the
    threshold at which top-1 precision was >= 0.90 on the development split; unsure when its
    score is low or the next code's is too close to call (taxonomy/coder/calibration.py).
    """

    code: str
    title: str
    score: float
    evidence: tuple[str, ...]
    confident: bool = False
    unsure: bool = False


@dataclass(frozen=True)
class IndexInfo:
    """Where an index lives, the reference hash it was built from, and what building it took."""

    path: Path
    reference_hash: str
    size_bytes: int
    built: bool  # False when an up-to-date index was already there.
    seconds: float = 0.0

    @property
    def version(self) -> str:
        return f"{METHOD}@{self.reference_hash[:12]}"


def reference_dir() -> Path:
    """The folder of reference CSV files (fixtures/reference/ unless settings say otherwise)."""
    return Path(getattr(settings, "ROLEBOOK_CODER_REFERENCE_DIR", Path(settings.BASE_DIR) / "fixtures" / "reference"))


def index_dir() -> Path:
    return Path(settings.ROLEBOOK_CODER_PATH)


def current_hash(directory: Path | None = None) -> str:
    """Return the SHA-256 of the reference files and the method version: the index's key."""
    return reference_hash(directory or reference_dir(), extra=(METHOD_VERSION, semantic.tag()))


def index_status(path: Path | None = None) -> tuple[str, str | None]:
    """Return (wanted hash, stored hash or None when there is no readable index at `path`)."""
    wanted = current_hash()
    file = (path or index_dir()) / INDEX_FILE
    try:
        with np.load(file, allow_pickle=False) as stored:
            meta = json.loads(stored["meta"].tobytes().decode("utf-8"))
        return wanted, meta.get("reference_hash")
    except (OSError, KeyError, ValueError):
        return wanted, None


def build_index(path: Path | None = None) -> IndexInfo:
    """Build the index from the reference files into `path` (default settings.ROLEBOOK_CODER_PATH).

    Written to a temporary file and renamed, so a reader never sees half an index.
    Raises FileNotFoundError when a reference file is missing.
    """
    path = Path(path or index_dir())
    start = time.perf_counter()
    digest = current_hash()
    model = Model.build(load_reference(reference_dir()))
    arrays = model.to_arrays()
    meta = {"reference_hash": digest, "method": METHOD_VERSION, "built_at": time.time()}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    path.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path, prefix=".coder-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as stream:
            np.savez(stream, **arrays)
        os.replace(tmp, path / INDEX_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    size = (path / INDEX_FILE).stat().st_size
    return IndexInfo(path, digest, size, built=True, seconds=time.perf_counter() - start)


def ensure_index(path: Path | None = None, *, force: bool = False) -> IndexInfo:
    """Build the index unless an up-to-date one is at `path`; returns what is there afterwards."""
    path = Path(path or index_dir())
    wanted, stored = index_status(path)
    if stored == wanted and not force:
        return IndexInfo(path, wanted, (path / INDEX_FILE).stat().st_size, built=False)
    return build_index(path)


# One loaded model per process, keyed on the folder; a lock so concurrent first requests build once.
_lock = threading.Lock()
_loaded: dict[Path, tuple[Model, str]] = {}


def load_index(path: Path | None = None) -> tuple[Model, str]:
    """Return (model, reference hash), loading it once per process and building it when missing or stale."""
    path = Path(path or index_dir())
    cached = _loaded.get(path)
    if cached is not None:
        return cached
    with _lock:
        if path in _loaded:
            return _loaded[path]
        wanted, stored = index_status(path)
        if stored != wanted:
            state = "missing" if stored is None else "stale"
            logger.warning("SOC coder index at %s is %s; building it now (run manage.py build_coder).", path, state)
            info = build_index(path)
            logger.warning("SOC coder index built in %.1f s (%d bytes).", info.seconds, info.size_bytes)
        with np.load(path / INDEX_FILE, allow_pickle=False) as stored_arrays:
            model = Model.from_arrays(stored_arrays)
        _loaded[path] = (model, wanted)
        return _loaded[path]


def reset_cache() -> None:
    """Forget loaded indexes (tests, or after a rebuild in the same process)."""
    with _lock:
        _loaded.clear()


def coder_version() -> str:
    """Identify the method and the reference it was built from, e.g. "nb-fusion-1@3f2a9c0d1e22"."""
    _, digest = load_index()
    return f"{METHOD_VERSION}@{digest[:12]}"


def suggest(query: CoderQuery, k: int = 5) -> list[Suggestion]:
    """Return up to k detailed SOC codes for `query`, best first; [] for an empty or meaningless query."""
    return suggest_many([query], k=k)[0]


def suggest_many(queries: Sequence[CoderQuery], k: int = 5) -> list[list[Suggestion]]:
    """Return `suggest` for each query, computed in one vectorised pass (pages of roles, batches)."""
    if not queries:
        return []
    model, _ = load_index()
    prepared = [prepare(q.title, q.aliases, q.components, q.story) for q in queries]
    answers: list[list[Suggestion]] = []
    # Chunks bound the memory of the dense (queries x 867) score matrices.
    for start in range(0, len(prepared), 256):
        chunk = prepared[start : start + 256]
        for query, ranked in zip(chunk, model.rank(chunk, k), strict=True):
            answers.append(
                [
                    Suggestion(
                        code=model.codes[cls],
                        title=model.soc_titles[cls],
                        score=round(score, 4),
                        evidence=model.evidence(query, cls),
                        confident=ranked.confident and i == 0,
                        unsure=ranked.unsure and i == 0,
                    )
                    for i, (cls, score) in enumerate(ranked.classes)
                ]
            )
    return answers
