"""Management commands of the SOC coder: build_coder and suggest_soc."""

import json
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from taxonomy.coder import INDEX_FILE, reset_cache

REFERENCE = Path(settings.BASE_DIR) / "fixtures" / "reference"

# build_coder also loads the official job titles into the database.
pytestmark = pytest.mark.django_db


def run(*args, **kwargs) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err, **kwargs)
    return out.getvalue(), err.getvalue()


# build_coder -----------------------------------------------------------------------------------


@pytest.fixture
def tiny_reference(tmp_path, settings):
    """A reference folder of a few rows per file, and an empty index folder: builds in milliseconds."""
    folder = tmp_path / "reference"
    folder.mkdir()
    keep = {"15-2051", "29-1141", "11-3031"}
    for file in sorted(REFERENCE.glob("*.csv")):
        lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
        picked = [lines[0]] + [line for line in lines[1:] if any(code in line for code in keep)][:40]
        (folder / file.name).write_text("".join(picked), encoding="utf-8")
    settings.ROLEBOOK_CODER_REFERENCE_DIR = folder
    settings.ROLEBOOK_CODER_PATH = tmp_path / "index"
    reset_cache()
    yield folder
    reset_cache()


def test_build_coder_builds_a_missing_index(tiny_reference, settings):
    from taxonomy.models import ReferenceTitle

    out, _ = run("build_coder")
    assert out.startswith("SOC coder index built in ")
    assert (Path(settings.ROLEBOOK_CODER_PATH) / INDEX_FILE).is_file()
    # The official titles now come from the tiny reference: every row under one of its codes.
    assert "Official job titles loaded:" in out
    codes = set(ReferenceTitle.objects.values_list("soc_code", flat=True))
    assert codes and codes <= {"15-2051", "29-1141", "11-3031"}


def test_build_coder_is_a_no_op_when_current(tiny_reference, settings):
    run("build_coder")
    index = Path(settings.ROLEBOOK_CODER_PATH) / INDEX_FILE
    before = index.stat().st_mtime_ns
    out, _ = run("build_coder")
    assert "is current" in out and "nothing to do" in out
    assert "Official job titles" not in out
    assert index.stat().st_mtime_ns == before


def test_build_coder_rebuilds_when_the_reference_changes(tiny_reference):
    run("build_coder")
    titles = tiny_reference / "soc2018_direct_match_titles.csv"
    titles.write_text(titles.read_text(encoding="utf-8") + "Chief Data Wrangler,15-2051\n", encoding="utf-8")
    out, _ = run("build_coder")
    assert out.startswith("SOC coder index built in ")


def test_build_coder_force_rebuilds(tiny_reference):
    run("build_coder")
    out, _ = run("build_coder", "--force")
    assert out.startswith("SOC coder index built in ")


def test_build_coder_names_a_missing_reference_file(tiny_reference):
    (tiny_reference / "onet_task_statements.csv").unlink()
    with pytest.raises(CommandError, match="onet_task_statements.csv"):
        run("build_coder")


def test_suggest_builds_a_stale_index_instead_of_failing(tiny_reference, caplog):
    from taxonomy.coder import CoderQuery, suggest

    assert suggest(CoderQuery(title="Data Scientist"))[0].code == "15-2051"
    assert "building it now" in caplog.text


# suggest_soc -----------------------------------------------------------------------------------


def test_suggest_soc_prints_a_table_for_one_title():
    out, _ = run("suggest_soc", "Registered Nurse", "--k", "3")
    lines = out.splitlines()
    assert lines[0].split() == ["code", "score", "title"]
    assert lines[1].startswith("29-1141") and "Registered Nurses" in lines[1]
    assert any(line.strip().startswith("- ") for line in lines[2:])


def test_suggest_soc_says_so_when_nothing_matches():
    out, _ = run("suggest_soc", "zzzzqqq xxyyq")
    assert out.strip() == "No suggestion for 'zzzzqqq xxyyq'."


def test_suggest_soc_answers_good_lines_in_order_and_names_bad_ones(tmp_path):
    lines = [
        json.dumps({"title": "Data Engineer"}),  # 1
        "{not json",  # 2
        json.dumps(["Data Engineer"]),  # 3: not an object
        "",  # 4: blank, skipped silently
        json.dumps({"aliases": ["Nurse"]}),  # 5: no title
        json.dumps({"title": "Registered Nurse", "components": ["Administer medications."], "story": "Cares."}),  # 6
        json.dumps({"title": "   "}),  # 7: empty title
        json.dumps({"title": "Nurse", "aliases": "RN"}),  # 8: aliases not a list
        json.dumps({"title": "x" * 1001}),  # 9: title too long
        json.dumps({"title": "Welder", "story": "x" * 1_048_576}),  # 10: a 1 MB line
        json.dumps({"title": "Accounting Manager", "aliases": ["Controller"], "components": []}),  # 11
        json.dumps({"title": "zzzzqqq xxyyq"}),  # 12: answered, with no suggestion
    ]
    path = tmp_path / "roles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="7 line\\(s\\) failed, 4 answered") as failure:
        call_command("suggest_soc", "--input", str(path), "--k", "2", stdout=out, stderr=err)
    assert failure.value.returncode == 1

    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [a["line"] for a in answers] == [1, 6, 11, 12]
    assert answers[0]["suggestions"][0]["code"] == "15-1243"
    assert answers[1]["suggestions"][0]["code"] == "29-1141"
    assert answers[2]["suggestions"][0]["code"] == "11-3031"
    assert answers[3]["suggestions"] == []
    first = answers[0]["suggestions"][0]
    assert set(first) == {"code", "title", "score", "evidence"} and len(answers[0]["suggestions"]) == 2
    assert 0 <= first["score"] <= 1 and first["evidence"]

    errors = err.getvalue().splitlines()
    assert [e.split(":")[1] for e in errors] == ["2", "3", "5", "7", "8", "9", "10"]
    assert all(e.startswith(f"{path}:") for e in errors)
    assert "invalid JSON" in errors[0] and "expected a JSON object" in errors[1]
    assert '"title" is required' in errors[2] and '"aliases" must be a list' in errors[4]
    assert "longer than 1000" in errors[5] and "KB" in errors[6]


def test_suggest_soc_exits_0_when_every_line_is_good(tmp_path):
    path = tmp_path / "ok.jsonl"
    path.write_text('{"title": "Data Engineer"}\n{"title": "Welder"}\n', encoding="utf-8")
    out, err = run("suggest_soc", "--input", str(path))
    assert len(out.splitlines()) == 2 and err == ""


def test_suggest_soc_names_a_missing_file(tmp_path):
    missing = tmp_path / "nope.jsonl"
    with pytest.raises(CommandError, match=f"{missing}: no such file"):
        run("suggest_soc", "--input", str(missing))


def test_suggest_soc_needs_a_title_or_an_input():
    with pytest.raises(CommandError, match="Give either a title"):
        run("suggest_soc")


def test_suggest_soc_exit_status_from_the_command_line(tmp_path):
    """manage.py turns the CommandError into exit status 1, after printing the good lines."""
    import subprocess
    import sys

    path = tmp_path / "mixed.jsonl"
    path.write_text('{"title": "Data Engineer"}\n[1]\n', encoding="utf-8")
    env = {
        "DJANGO_SETTINGS_MODULE": "framework.settings.test",
        "ROLEBOOK_CODER_PATH": str(settings.ROLEBOOK_CODER_PATH),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "suggest_soc", "--input", str(path)],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 1
    assert json.loads(done.stdout.splitlines()[0])["line"] == 1
    assert f"{path}:2: expected a JSON object" in done.stderr


# Kept apart from the session index: a copy of the real reference must hash like the original.
def test_a_copied_reference_hashes_the_same(tmp_path):
    from taxonomy.coder import current_hash

    shutil.copytree(REFERENCE, tmp_path / "copy")
    assert current_hash(tmp_path / "copy") == current_hash(REFERENCE)
