"""Enrolled people in the store (SQLite and PostgreSQL) and on the command line: list, export, import, remove, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from unmask.cli import main
from unmask.errors import ProfileError, UnknownPerson
from unmask.reference.people import People
from unmask.reference.profile import FootageItem, PersonProfile


def _profile(name: str) -> PersonProfile:
    rng = np.random.default_rng(len(name))
    return PersonProfile(name, rng.normal(size=(6, 128)).astype(np.float32), rng.normal(size=(3, 66)).astype(np.float32),
                         {"window_s": 4.0}, (FootageItem("a.mp4", "ab" * 32, "video", 8.0, 8.0, 6, 3),),
                         created_at="2026-01-01T00:00:00Z", unmask_version="0.1.0")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A people database on SQLite and, when UNMASK_TEST_PG_URL is set, PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'people.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with People.open(url) as people:
        for n in ("Ada Lovelace", "Alan Turing"):
            p = _profile(n)
            people.store.people.add(p.name, p.to_bytes(), p.summary())
    return url


def test_profiles_round_trip_through_the_store(db, tmp_path):
    with People.open(db) as people:
        got = people.get("ada lovelace")  # one enrolled name matches, ignoring case
        assert got.version == 1 and np.array_equal(got.embeddings, _profile("Ada Lovelace").embeddings)
        people.export("Ada Lovelace", tmp_path / "ada.json")
        assert (tmp_path / "ada.json").read_bytes() == _profile("Ada Lovelace").to_bytes()
        rec, prof = people.import_file(tmp_path / "ada.json")
        assert rec.version == 2 and prof.name == "Ada Lovelace"
        rec, prof = people.import_file(tmp_path / "ada.json", name="Augusta Ada King")
        assert rec.version == 1 and people.get("Augusta Ada King").name == "Augusta Ada King"
        assert [r.name for r in people.latest()] == ["Ada Lovelace", "Alan Turing", "Augusta Ada King"]
        assert people.remove("Ada Lovelace") == 2
        with pytest.raises(UnknownPerson):
            people.get("Ada Lovelace")


def test_damaged_import_is_refused(db, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "unmask-person-profile", "format_version": 1}')
    with People.open(db) as people, pytest.raises(ProfileError, match="bad.json"):
        people.import_file(bad)


def test_cli_lists_exports_imports_and_removes(db, tmp_path, capsys):
    assert main(["people", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "Ada Lovelace  v1" in out and "6 face images" in out
    assert main(["people", "--db", db, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["Ada Lovelace", "Alan Turing"] and rows[0]["embeddings"] == 6
    f = tmp_path / "alan.unmask-profile.json"
    assert main(["people", "--db", db, "export", "Alan Turing", str(f)]) == 0
    assert main(["people", "--db", db, "import", str(f), "--name", "A. M. Turing"]) == 0
    assert "imported A. M. Turing as version 1" in capsys.readouterr().out
    assert main(["people", "--db", db, "remove", "Alan Turing"]) == 0
    assert "removed Alan Turing (1 version)" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["people", "remove", "Nobody"], "no enrolled person 'Nobody'"),
    (["people", "export", "Nobody", "x.json"], "no enrolled person 'Nobody'"),
    (["people", "import", "missing.json"], "no such file"),
    (["scan", "whatever.mp4", "--claims", "Nobody"], "no enrolled person 'Nobody'"),
    (["scan", "whatever.mp4", "--claims-version", "2"], "--claims-version needs --claims"),
    (["enroll", "Nobody", "missing.mp4"], "too little usable footage of Nobody"),
    (["enroll", "Nobody", "missing.mp4"], "could not read missing.mp4 (no such file)"),
], ids=["remove-unknown", "export-unknown", "import-missing", "scan-unknown-claim", "version-without-claim",
        "enroll-bad-file", "enroll-names-unreadable-file"])
def test_cli_errors_are_one_line(db, tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert main(argv[:1] + ["--db", db] + argv[1:] if argv[0] != "scan" else argv + ["--db", db, "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("unmask: error:") and words in err and "\n" not in err, err
