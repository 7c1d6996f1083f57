"""The store: people versions, the scan queue's state machine, crash recovery, migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from unmask.errors import StoreError, UnknownPerson, UnknownScan, UnmaskError
from unmask.store import Store
from unmask.store.models import ScanRow

REPORT = {"verdict": {"label": "likely_real", "score": 0.12}, "input": {"sha256": "ab" * 32}}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    """The same tests on SQLite and, when a server is available (UNMASK_TEST_PG_URL), PostgreSQL."""
    url = f"sqlite:///{tmp_path / 'unmask.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    with Store.open(url) as st:
        yield st


def test_default_location_is_the_data_dir_in_wal_mode(tmp_path, monkeypatch):
    monkeypatch.delenv("UNMASK_DATABASE_URL", raising=False)
    monkeypatch.setenv("UNMASK_DATA_DIR", str(tmp_path / "data"))
    with Store.open() as st:
        assert st.url == f"sqlite:///{tmp_path / 'data' / 'unmask.db'}"
        with st.engine.connect() as c:
            assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert c.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "data" / "unmask.db").exists()


def test_database_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("UNMASK_DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    with Store.open() as st:
        st.people.add("x", b"1")
    assert (tmp_path / "elsewhere.db").exists()


@pytest.mark.parametrize("url", ["not a url", "nosuchdb://x/y", "postgresql://u:secret@127.0.0.1:1/db"],
                         ids=["garbage", "unknown-dialect", "unreachable-server"])
def test_bad_url_is_a_store_error_without_the_password(url):
    with pytest.raises(StoreError) as ei:
        Store.open(url)
    assert "secret" not in str(ei.value)
    assert isinstance(ei.value, UnmaskError)


def test_models_match_the_migrations(store):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from unmask.store.migrate import current_revision, head_revision
    from unmask.store.models import Base

    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_an_old_schema_is_migrated_keeping_its_rows(store):
    from alembic import command

    from unmask.store.migrate import alembic_config, head_revision

    cfg = alembic_config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    with store.engine.begin() as conn:
        conn.execute(text("INSERT INTO scans (id, status, progress, source_name, media_path, owns_media, overrides, "
                          "attempts, created_at) VALUES ('old', 'queued', 0, 'a.mp4', '/a', false, '{}', 0, "
                          "CURRENT_TIMESTAMP)"))
    with Store.open(store.url) as again:
        from unmask.store.migrate import current_revision

        assert current_revision(again.engine) == head_revision()
        assert again.scans.get("old").source_name == "a.mp4"
        big = again.scans.create("big.mp4", "/b", size_bytes=3 * 1024**3)  # past 32 bits
        assert again.scans.get(big.id).size_bytes == 3 * 1024**3


def test_reopening_keeps_data_and_refuses_a_newer_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'u.db'}"
    with Store.open(url) as st:
        st.people.add("Ada", b"p")
        with st.engine.begin() as c:
            c.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreError, match="newer than this unmask"):
        Store.open(url)


# -- people ------------------------------------------------------------------------------------


def test_people_are_versioned_listed_and_removed(store):
    a1 = store.people.add("Ada Lovelace", b"\x00profile-1", {"faces": 10, "seconds": 4.5})
    a2 = store.people.add("  Ada Lovelace ", b"\x00profile-2", {"faces": 20})
    b1 = store.people.add("Bob", b"b")
    assert (a1.version, a2.version, b1.version) == (1, 2, 1)
    assert a2.name == "Ada Lovelace" and a2.created_at.tzinfo is not None
    assert store.people.get("Ada Lovelace").profile == b"\x00profile-2"
    assert store.people.get("Ada Lovelace", version=1).summary == {"faces": 10, "seconds": 4.5}
    assert [(p.name, p.version) for p in store.people.latest()] == [("Ada Lovelace", 2), ("Bob", 1)]
    assert [p.version for p in store.people.versions("Ada Lovelace")] == [1, 2]
    assert store.people.delete("Ada Lovelace", version=1) == 1
    assert store.people.add("Ada Lovelace", b"3").version == 3  # versions are never reused
    assert store.people.delete("Ada Lovelace") == 2
    with pytest.raises(UnknownPerson):
        store.people.get("Ada Lovelace")
    with pytest.raises(UnknownPerson):
        store.people.delete("Ada Lovelace")
    with pytest.raises(UnknownPerson, match="version 7"):
        store.people.get("Bob", version=7)


@pytest.mark.parametrize("name,profile,match", [
    ("", b"x", "empty"),
    ("   ", b"x", "empty"),
    ("x" * 201, b"x", "at most 200"),
    ("bad\nname", b"x", "control"),
    ("ok", "not bytes", "must be bytes"),
], ids=["empty", "blank", "too-long", "newline", "str-profile"])
def test_people_refuse_bad_input(store, name, profile, match):
    with pytest.raises(StoreError, match=match):
        store.people.add(name, profile)


def test_concurrent_enrolments_get_distinct_versions(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    Store.open(url).close()
    errors: list[BaseException] = []

    def enrol() -> None:
        try:
            with Store.open(url) as st:
                for _ in range(5):
                    st.people.add("Ada", b"p")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=enrol) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Store.open(url) as st:
        assert [p.version for p in st.people.versions("Ada")] == list(range(1, 21))


# -- scans -------------------------------------------------------------------------------------


def test_scan_lifecycle(store):
    a = store.scans.create("a.mp4", "/srv/a", owns_media=True, overrides={"sampling.fps": 4})
    b = store.scans.create("b.mp4", "/srv/b")
    assert a.status == "queued" and a.overrides == {"sampling.fps": 4}
    got = store.scans.claim("host:1")
    assert got is not None and got.id == a.id and got.status == "running" and got.attempts == 1  # oldest first
    assert store.scans.progress(a.id, "host:1", 0.4, "faces")
    assert not store.scans.progress(a.id, "host:2", 0.5, "faces")  # not that worker's scan
    assert store.scans.get(a.id).progress == pytest.approx(0.4)
    assert store.scans.report(a.id) is None and store.scans.report_html(a.id) is None
    assert store.scans.finish(a.id, "host:1", REPORT, b"<html>ok</html>")
    done = store.scans.get(a.id)
    assert (done.status, done.label, done.score, done.progress) == ("done", "likely_real", 0.12, 1.0)
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert store.scans.report(a.id) == REPORT and store.scans.report_html(a.id) == b"<html>ok</html>"
    assert not store.scans.finish(a.id, "host:1", REPORT, None)  # only once
    store.scans.claim("host:1")
    assert store.scans.fail(b.id, "probe: not a video", worker="host:1")
    assert store.scans.get(b.id).error == "probe: not a video"
    assert store.scans.claim("host:1") is None

    page = store.scans.page(limit=1)
    assert page.total == 2 and [s.id for s in page.items] == [b.id] and page.next_offset == 1
    assert [s.id for s in store.scans.page(status="done").items] == [a.id]
    with pytest.raises(StoreError, match="unknown scan status"):
        store.scans.page(status="bogus")

    gone = store.scans.delete(a.id)
    assert gone.owns_media and gone.media_path == "/srv/a"
    with pytest.raises(UnknownScan):
        store.scans.get(a.id)
    with pytest.raises(UnknownScan):
        store.scans.report(a.id)
    with pytest.raises(UnknownScan):
        store.scans.delete(a.id)


def test_a_deleted_running_scan_tells_its_worker(store):
    s = store.scans.create("a.mp4", "/srv/a")
    store.scans.claim("w:1")
    store.scans.delete(s.id)
    assert not store.scans.progress(s.id, "w:1", 0.5, "faces")
    assert not store.scans.finish(s.id, "w:1", REPORT, None)


def test_a_scan_keeps_its_claim_and_the_reference_conclusion(store):
    s = store.scans.create("a.mp4", "/srv/a", claims="Ada Lovelace", claims_version=2)
    assert (s.claims, s.claims_version, s.claim_conclusion) == ("Ada Lovelace", 2, None)
    store.scans.claim("w:1")
    assert store.scans.finish(s.id, "w:1", {**REPORT, "reference": {"conclusion": "impersonator"}}, None)
    assert store.scans.get(s.id).claim_conclusion == "impersonator"
    plain = store.scans.create("b.mp4", "/srv/b")
    assert (plain.claims, plain.claims_version) == (None, None)


# -- enrolments --------------------------------------------------------------------------------


def test_enrolment_lifecycle_stores_the_person_with_the_done_mark(store):
    from unmask.errors import UnknownEnrolment
    from unmask.store import EnrolmentFile

    files = [EnrolmentFile("speech 1.mp4", "/srv/e/0", 1000), EnrolmentFile("portrait.jpg", "/srv/e/1", 20)]
    e = store.enrolments.create("Ada Lovelace", files)
    assert e.status == "queued" and e.files == tuple(files) and e.person_version is None and e.lines == ()
    store.people.add("Ada Lovelace", b"v1")
    got = store.enrolments.claim("w:1")
    assert got is not None and got.id == e.id and got.attempts == 1
    assert store.enrolments.progress(e.id, "w:1", 0.5, "reading speech 1.mp4")
    assert store.enrolments.finish(e.id, "w:2", b"profile", {"embeddings": 7}, ["a"]) is None  # not its worker
    person = store.enrolments.finish(e.id, "w:1", b"profile", {"embeddings": 7}, ["speech 1.mp4: 6.9 s"])
    assert person is not None and (person.name, person.version, person.profile) == ("Ada Lovelace", 2, b"profile")
    done = store.enrolments.get(e.id)
    assert (done.status, done.person_version, done.summary, done.lines) == ("done", 2, {"embeddings": 7},
                                                                            ("speech 1.mp4: 6.9 s",))
    assert store.people.get("Ada Lovelace").profile == b"profile"
    assert store.enrolments.finish(e.id, "w:1", b"again", {}, []) is None  # only once: no third version
    assert [p.version for p in store.people.versions("Ada Lovelace")] == [1, 2]

    bad = store.enrolments.create("Bob", files[:1])
    store.enrolments.claim("w:1")
    assert store.enrolments.fail(bad.id, "too little usable footage of Bob", worker="w:1")
    assert [x.id for x in store.enrolments.recent()] == [bad.id, e.id]
    assert [x.id for x in store.enrolments.recent(status="failed")] == [bad.id]
    assert store.enrolments.delete(bad.id).files == tuple(files[:1])
    with pytest.raises(UnknownEnrolment):
        store.enrolments.get(bad.id)
    with pytest.raises(StoreError):
        store.enrolments.create("  ", files)


def test_enrolments_are_recovered_like_scans(store):
    from unmask.store import EnrolmentFile

    e = store.enrolments.create("Ada", [EnrolmentFile("a.mp4", "/srv/a", 1)])
    store.enrolments.claim("host:1:x")
    assert [r.status for r in store.enrolments.recover(lambda w: w == "host:1:x", float("inf"), 2)] == ["queued"]
    store.enrolments.claim("host:1:x")
    assert store.enrolments.running()[0].id == e.id
    assert store.enrolments.requeue(e.id, "host:1:x") and store.enrolments.get(e.id).attempts == 1
    store.enrolments.claim("host:1:x")
    (gone,) = store.enrolments.recover(lambda w: True, float("inf"), 2, why="the process died")
    assert gone.status == "failed" and gone.error == "interrupted 2 times: the process died; not retried again"
    store.enrolments.delete(e.id)
    assert not store.enrolments.progress(e.id, "host:1:x", 0.5, "x") and not store.enrolments.has_queued()


def test_concurrent_claims_never_share_a_scan(tmp_path):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    with Store.open(url) as st:
        ids = {st.scans.create(f"{i}.mp4", f"/srv/{i}").id for i in range(30)}
    claimed: list[str] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        with Store.open(url) as st:
            while (rec := st.scans.claim(f"w:{n}")) is not None:
                with lock:
                    claimed.append(rec.id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)


def test_recover_requeues_then_fails_abandoned_scans(store):
    a = store.scans.create("a.mp4", "/srv/a")
    live = store.scans.create("live.mp4", "/srv/live")
    store.scans.claim("host:dead")
    store.scans.claim("host:alive")
    dead = lambda w: w == "host:dead"  # noqa: E731
    out = store.scans.recover(dead, stale_after_s=60, max_attempts=2)
    assert [(r.id, r.status) for r in out] == [(a.id, "queued")]
    assert store.scans.get(live.id).status == "running"  # a live worker keeps its scan
    assert store.scans.claim("host:dead").id == a.id  # second attempt
    out = store.scans.recover(dead, stale_after_s=60, max_attempts=2, why="the scanning process died")
    assert out[0].status == "failed" and out[0].error.startswith("interrupted 2 times: the scanning process died")


def test_requeue_on_shutdown_does_not_count_an_attempt(store):
    s = store.scans.create("a.mp4", "/srv/a")
    assert not store.scans.requeue(s.id, "w:1")  # not running
    assert store.scans.has_queued()
    store.scans.claim("w:1")
    assert not store.scans.has_queued()
    assert store.scans.requeue(s.id, "w:1")
    rec = store.scans.get(s.id)
    assert rec.status == "queued" and rec.attempts == 0 and rec.worker is None


def test_recover_picks_up_stale_heartbeats_from_any_host(store):
    s = store.scans.create("a.mp4", "/srv/a")
    store.scans.claim("otherhost:5")
    with store.write() as sess:
        sess.get(ScanRow, s.id).heartbeat_at = store.now() - timedelta(seconds=120)
    assert store.scans.recover(lambda w: False, stale_after_s=300, max_attempts=2) == []
    assert store.scans.recover(lambda w: False, stale_after_s=60, max_attempts=2)[0].status == "queued"


def test_a_killed_process_loses_no_finished_scan(tmp_path):
    """SIGKILL right after one scan finished and while another runs: the first is done, the second recoverable."""
    url = f"sqlite:///{tmp_path / 'k.db'}"
    with Store.open(url) as st:
        first = st.scans.create("a.mp4", "/srv/a")
        second = st.scans.create("b.mp4", "/srv/b")
    script = textwrap.dedent(f"""
        import os, signal
        from unmask.store import Store
        st = Store.open({url!r})
        w = "host:" + str(os.getpid())
        s = st.scans.claim(w)
        st.scans.finish(s.id, w, {REPORT!r}, b"<html>")
        s2 = st.scans.claim(w)
        st.scans.progress(s2.id, w, 0.5, "faces")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with Store.open(url) as st:
        assert st.scans.get(first.id).status == "done" and st.scans.report(first.id) == REPORT
        assert st.scans.get(second.id).status == "running"
        out = st.scans.recover(lambda w: True, stale_after_s=60, max_attempts=2)
        assert [r.id for r in out] == [second.id] and out[0].status == "queued"


def test_store_error_on_a_locked_read_only_database(tmp_path):
    db = tmp_path / "ro" / "u.db"
    Store.open(f"sqlite:///{db}").close()
    os.chmod(db.parent, 0o500)
    os.chmod(db, 0o400)
    try:
        if os.access(db, os.W_OK):
            pytest.skip("running as a user who can write anything (root)")
        with pytest.raises(StoreError):
            with Store.open(f"sqlite:///{db}") as st:
                st.people.add("x", b"1")
    finally:
        os.chmod(db.parent, 0o700)
        os.chmod(db, 0o600)


def test_data_dir_default_is_per_user(monkeypatch):
    from unmask.store.paths import data_dir

    monkeypatch.delenv("UNMASK_DATA_DIR", raising=False)
    assert data_dir().name == "unmask" and str(Path.home()) in str(data_dir())
