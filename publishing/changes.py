"""CHANGES.md: what changed between two releases, per role: aliases and mappings added, removed, changed.

Both releases' fixture files are read as sorted streams and joined on the natural key, so the
comparison holds one object of each side at a time. A release of an earlier format
(``FORMAT_RENAMES``) is read as if it were today's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from roles.models import ClassificationMapping, TitleAlias

from .files import FORMAT, FORMAT_RENAMES, ReleaseError
from .formats.fixtures import iter_fixture


def _alias_key(fields: dict) -> tuple:
    return (fields["role"][0], fields["alias"])


def _mapping_key(fields: dict) -> tuple:
    return (fields["role"][0], fields["scheme"], fields["code"])


def _objects_of(
    directory: Path, files: dict[str, dict], load_order: list[str], label: str, release_format: str = FORMAT
) -> Iterator[dict]:
    """Yield the `label` objects of a release, whichever files hold them, with today's field names."""
    renames = FORMAT_RENAMES.get(release_format, {}).get(label, {})
    named = [name for name, info in files.items() if info.get("model") == label]
    for name in named or load_order:
        for obj in iter_fixture(directory / name):
            if obj.get("model") == label:
                if renames:
                    obj["fields"] = {renames.get(k, k): v for k, v in obj["fields"].items()}
                yield obj


def _merge(old: Iterable[dict], new: Iterable[dict], keyfn) -> Iterator[tuple[tuple, dict | None, dict | None]]:
    """Join two natural-key-sorted streams: yield (key, old fields or None, new fields or None)."""
    def keyed(objects, side):
        previous = None
        for obj in objects:
            key = keyfn(obj["fields"])
            if previous is not None and key <= previous:
                raise ReleaseError(f"The {side} release is not sorted by natural key at {key}.")
            previous = key
            yield key, obj["fields"]

    sentinel = (None, None)
    old_it, new_it = keyed(old, "earlier"), keyed(new, "new")
    a, b = next(old_it, sentinel), next(new_it, sentinel)
    while a is not sentinel or b is not sentinel:
        if b is sentinel or (a is not sentinel and a[0] < b[0]):
            yield a[0], a[1], None
            a = next(old_it, sentinel)
        elif a is sentinel or b[0] < a[0]:
            yield b[0], None, b[1]
            b = next(new_it, sentinel)
        else:
            if a[1] != b[1]:
                yield a[0], a[1], b[1]
            a, b = next(old_it, sentinel), next(new_it, sentinel)


def _field_changes(old: dict, new: dict) -> str:
    return "; ".join(
        f"{name} {_show(old.get(name))} → {_show(new.get(name))}"
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    )


def _show(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    if isinstance(value, list):
        return "/".join(str(v) for v in value)
    return str(value)


def changes_markdown(
    since_dir: Path, since_manifest: dict, new_dir: Path, new_files: dict[str, dict], *, version: str
) -> str:
    """Return CHANGES.md: per role, the aliases and mappings added, removed and changed."""
    since_files = since_manifest.get("files") or {}
    since_order = since_manifest["load_order"]
    new_order = [name for name, info in new_files.items() if "model" in info]  # fixture files only
    per_role: dict[str, dict[str, list[str]]] = {}
    totals = {"aliases": [0, 0, 0], "mappings": [0, 0, 0]}

    def note(role: str, section: str, line: str) -> None:
        per_role.setdefault(role, {"aliases": [], "mappings": []})[section].append(line)

    label = TitleAlias._meta.label_lower
    for key, old, new in _merge(
        _objects_of(since_dir, since_files, since_order, label, since_manifest.get("format", FORMAT)),
        _objects_of(new_dir, new_files, new_order, label),
        _alias_key,
    ):
        role, alias = key
        if old is None:
            totals["aliases"][0] += 1
            note(role, "aliases", f'- added "{alias}" ({new["alias_type"]}, confidence {new["confidence"]})')
        elif new is None:
            totals["aliases"][1] += 1
            note(role, "aliases", f'- removed "{alias}"')
        else:
            totals["aliases"][2] += 1
            note(role, "aliases", f'- changed "{alias}": {_field_changes(old, new)}')

    # Mappings: an added code whose previous_code is a removed code of the role is a refinement.
    label = ClassificationMapping._meta.label_lower
    added: dict[str, list[dict]] = {}
    removed: dict[str, list[dict]] = {}
    for key, old, new in _merge(
        _objects_of(since_dir, since_files, since_order, label, since_manifest.get("format", FORMAT)),
        _objects_of(new_dir, new_files, new_order, label),
        _mapping_key,
    ):
        role = key[0]
        if old is None:
            added.setdefault(role, []).append(new)
        elif new is None:
            removed.setdefault(role, []).append(old)
        else:
            totals["mappings"][2] += 1
            note(role, "mappings", f"- changed {old['scheme']} {old['code']}: {_field_changes(old, new)}")
    for role in sorted(set(added) | set(removed)):
        gone = {(m["scheme"], m["code"]): m for m in removed.get(role, [])}
        for mapping in added.get(role, []):
            before = gone.pop((mapping["scheme"], mapping["previous_code"]), None)
            if before is not None:
                totals["mappings"][2] += 1
                note(
                    role,
                    "mappings",
                    f"- refined {mapping['scheme']} {before['code']} → {mapping['code']}"
                    + (f' "{mapping["title"]}"' if mapping["title"] else ""),
                )
            else:
                totals["mappings"][0] += 1
                note(
                    role,
                    "mappings",
                    f"- added {mapping['scheme']} {mapping['code']}"
                    + (f' "{mapping["title"]}"' if mapping["title"] else ""),
                )
        for scheme, code in sorted(gone):
            totals["mappings"][1] += 1
            note(role, "mappings", f"- removed {scheme} {code}")

    since_version = since_manifest.get("version") or "the earlier release"
    lines = [f"# Rolebook release {version}", ""]
    summary = "; ".join(
        f"{name}: {t[0]} added, {t[1]} removed, {t[2]} changed" for name, t in totals.items()
    )
    lines += [f"Changes since {since_version}. {summary}.", ""]
    if not per_role:
        lines += ["No alias or mapping changed.", ""]
    for role in sorted(per_role):
        lines += [f"## {role}", ""]
        for section, title in (("aliases", "Aliases"), ("mappings", "Mappings")):
            entries = per_role[role][section]
            if entries:
                lines += [f"### {title}", "", *entries, ""]
    return "\n".join(lines).rstrip("\n") + "\n"
