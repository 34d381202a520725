"""`manage.py suggest_soc`: SOC 2018 suggestions for titles, one at a time or from a JSONL file.

    manage.py suggest_soc "Data Engineer"              # a table for one title
    manage.py suggest_soc --input roles.jsonl --k 5    # one JSON line out per line in

Each input line is a JSON object {"title": ..., "aliases": [...], "components": [...], "story": ...}
(only "title" is required). Each output line is {"line": N, "suggestions": [...]}, N being the
1-based line number, in input order. A bad line is reported on stderr as FILE:N and skipped;
the others are still answered, and the command then fails (exit status 1). Blank lines are
skipped silently: they are not counted as errors and get no output line.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from taxonomy.coder import CoderQuery, suggest, suggest_many

MAX_LINE_BYTES = 256 * 1024
MAX_TITLE_CHARS = 1000
MAX_LIST_ITEMS = 1000
BATCH = 500


def parse_line(text: str) -> CoderQuery:
    """Turn one JSONL line into a query; raises ValueError saying what is wrong with it."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_LINE_BYTES:
        raise ValueError(f"line longer than {MAX_LINE_BYTES // 1024} KB")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError('"title" is required and must be a non-empty string')
    if len(title) > MAX_TITLE_CHARS:
        raise ValueError(f'"title" is longer than {MAX_TITLE_CHARS} characters')
    lists = {}
    for name in ("aliases", "components"):
        value = data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f'"{name}" must be a list of strings')
        if len(value) > MAX_LIST_ITEMS:
            raise ValueError(f'"{name}" has more than {MAX_LIST_ITEMS} items')
        lists[name] = value
    story = data.get("story", "")
    if not isinstance(story, str):
        raise ValueError('"story" must be a string')
    unknown = set(data) - {"title", "aliases", "components", "story"}
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    return CoderQuery(title=title, aliases=lists["aliases"], components=lists["components"], story=story)


class Command(BaseCommand):
    help = "Suggest detailed SOC 2018 codes for a title (table) or for each line of a JSONL file (JSONL out)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("title", nargs="?", help="One title; prints a table.")
        parser.add_argument("--input", dest="input", help="A JSONL file of queries; prints JSONL.")
        parser.add_argument("--k", type=int, default=5, help="Suggestions per query (1-50, default 5).")

    def handle(self, *args, title: str | None, input: str | None, k: int, **options) -> None:
        if not 1 <= k <= 50:
            raise CommandError("--k must be between 1 and 50.")
        if bool(title) == bool(input):
            raise CommandError('Give either a title ("Data Engineer") or --input FILE.jsonl.')
        if title:
            self._table(title, k)
        else:
            self._jsonl(Path(input), k)

    def _table(self, title: str, k: int) -> None:
        if len(title) > MAX_TITLE_CHARS:
            raise CommandError(f"The title is longer than {MAX_TITLE_CHARS} characters.")
        suggestions = suggest(CoderQuery(title=title), k=k)
        if not suggestions:
            self.stdout.write(f"No suggestion for {title!r}.")
            return
        self.stdout.write(f"{'code':<9}{'score':>7}  title")
        for s in suggestions:
            self.stdout.write(f"{s.code:<9}{s.score:>7.3f}  {s.title}")
            for item in s.evidence:
                self.stdout.write(f"{'':<18}- {item}")

    def _jsonl(self, path: Path, k: int) -> None:
        if not path.is_file():
            raise CommandError(f"{path}: no such file.")
        failed = answered = 0
        pending: list[tuple[int, CoderQuery]] = []
        try:
            with path.open("rb") as stream:
                for number, raw in enumerate(stream, start=1):
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError:
                        failed += self._error(path, number, "not UTF-8")
                        continue
                    if not text.strip():
                        continue
                    try:
                        pending.append((number, parse_line(text)))
                    except ValueError as exc:
                        failed += self._error(path, number, str(exc))
                        continue
                    if len(pending) >= BATCH:
                        answered += self._answer(pending, k)
                        pending = []
        except OSError as exc:
            raise CommandError(f"{path}: cannot read ({exc.strerror}).") from exc
        answered += self._answer(pending, k)
        if failed:
            raise CommandError(f"{path}: {failed} line(s) failed, {answered} answered.", returncode=1)

    def _answer(self, pending: list[tuple[int, CoderQuery]], k: int) -> int:
        results = suggest_many([q for _, q in pending], k=k)
        for (number, _), suggestions in zip(pending, results, strict=True):
            out = {
                "line": number,
                "suggestions": [
                    {"code": s.code, "title": s.title, "score": s.score, "evidence": list(s.evidence)}
                    for s in suggestions
                ],
            }
            self.stdout.write(json.dumps(out, ensure_ascii=False))
        return len(pending)

    def _error(self, path: Path, number: int, message: str) -> int:
        self.stderr.write(f"{path}:{number}: {message}")
        return 1
