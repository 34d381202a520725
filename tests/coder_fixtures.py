"""The SOC coder's index for tests: built once per test session into a temporary folder.

Wire it from a conftest with a session fixture that delegates to `use_coder_index`:

    @pytest.fixture(scope="session", autouse=True)
    def coder_index(tmp_path_factory):
        yield from use_coder_index(tmp_path_factory)

Several conftests may do so: the folder lives under the session's base temp and is built only
when it holds no index yet, so the whole suite builds it once (about 15 s: it also fits the fusion and the calibration).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.test import override_settings

from taxonomy.coder import INDEX_FILE, build_index, reset_cache


def use_coder_index(tmp_path_factory) -> Iterator[Path]:
    """Point ROLEBOOK_CODER_PATH at the session's index (building it once) for the duration."""
    path = Path(tmp_path_factory.getbasetemp()) / "coder-index"
    if not (path / INDEX_FILE).exists():
        build_index(path)
    override = override_settings(ROLEBOOK_CODER_PATH=path)
    override.enable()
    reset_cache()
    try:
        yield path
    finally:
        override.disable()
        reset_cache()


def reference_texts() -> set[str]:
    """Every cell of the reference CSV files: what evidence may quote."""
    folder = Path(settings.BASE_DIR) / "fixtures" / "reference"
    texts: set[str] = set()
    for file in folder.glob("*.csv"):
        with file.open(encoding="utf-8", newline="") as stream:
            for row in csv.reader(stream):
                texts.update(row)
    return texts


def detailed_codes() -> set[str]:
    """The detailed SOC 2018 codes of fixtures/reference/soc2018.csv."""
    folder = Path(settings.BASE_DIR) / "fixtures" / "reference"
    with (folder / "soc2018.csv").open(encoding="utf-8", newline="") as stream:
        return {r["code"] for r in csv.DictReader(stream) if r["level"] == "detailed"}
