"""Reference mode through the service: enrolling people from uploads, claims on scans, export/import, the people page."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from service_stubs import MODE_ENV, StubEngine, stub_profile, upload, uploads_dir, wait_for

from unmask.store import Store


def enrol(client, name: str | None, files: list[tuple[str, Path | bytes]], params: str = "", **kw):
    parts = [("file", (n, f.read_bytes() if isinstance(f, Path) else f, "application/octet-stream")) for n, f in files]
    data = {} if name is None else {"name": name}
    return client.post(f"/v1/people{params}", files=parts, data=data, **kw)


def wait_enrolment(client, eid: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        e = client.get(f"/v1/enrolments/{eid}").json()
        if e["status"] in ("done", "failed"):
            return e
        time.sleep(0.05)
    raise AssertionError(f"enrolment {eid} still {e['status']} after {timeout} s")


def enrol_dir(tmp_path: Path) -> Path:
    return uploads_dir(tmp_path) / "enrolments"


def leftovers(tmp_path: Path, wait_s: float = 5.0) -> list[str]:
    """The enrolment footage still on disk. The worker removes it just after it records the outcome, so a client
    can see "done" a moment before the files go: wait up to ``wait_s`` for them to go."""
    d = enrol_dir(tmp_path)
    deadline = time.monotonic() + wait_s
    while True:
        left = sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request, tmp_path):
    """Service settings for the service's store on SQLite and, when UNMASK_TEST_PG_URL is set, PostgreSQL."""
    return {} if request.param == "sqlite" else {"database_url": request.getfixturevalue("pg_url")}


def test_enrol_then_scan_with_a_claim(db_settings, service, face_clip, tmp_path):
    c = service(**db_settings)
    r = enrol(c, "Ada Lovelace", [("speech 1.mp4", face_clip), ("../speech 2.mp4", face_clip)])
    assert r.status_code == 202, r.text
    e = r.json()
    assert r.headers["location"] == f"/v1/enrolments/{e['id']}" and e["status"] == "queued" and e["person"] is None
    assert [f["name"] for f in e["files"]] == ["speech 1.mp4", "speech 2.mp4"]
    done = wait_enrolment(c, e["id"])
    assert done["status"] == "done", done
    summary = stub_profile("Ada Lovelace", ["speech 1.mp4", "speech 2.mp4"]).summary()
    assert done["person"] == {"name": "Ada Lovelace", "version": 1, "summary": summary}
    assert done["lines"] == ["speech 1.mp4: 8.0 s of the face (stub)", "speech 2.mp4: 8.0 s of the face (stub)"]
    name, files = StubEngine.enrolments[-1]
    assert name == "Ada Lovelace" and [n for _, n in files] == ["speech 1.mp4", "speech 2.mp4"]
    assert [Path(p).name for p, _ in files] == ["0", "1"]  # stored under the server's names
    assert leftovers(tmp_path) == []  # the footage goes once the profile exists
    assert [(p["name"], p["version"]) for p in c.get("/v1/people").json()] == [("Ada Lovelace", 1)]

    with open(face_clip, "rb") as f:  # the name as typed by someone else: it resolves ignoring case
        r = c.post("/v1/scans", files={"file": ("clip.mp4", f)}, data={"claims": "ada lovelace"})
    assert r.status_code == 202, r.text
    assert r.json()["claims"] == {"name": "Ada Lovelace", "version": 1, "conclusion": None}
    scan = wait_for(c, r.json()["id"])
    assert scan["status"] == "done" and StubEngine.claims[-1] == ("Ada Lovelace", 1)
    assert scan["claims"] == {"name": "Ada Lovelace", "version": 1, "conclusion": "consistent"}
    assert scan["report"]["reference"]["claimed"] == "Ada Lovelace"
    assert 'id="reference"' in c.get(f"/v1/scans/{scan['id']}/report.html").text
    assert "claims Ada Lovelace: consistent with this person" in c.get("/").text

    r = enrol(c, "Ada Lovelace", [("speech 3.mp4", face_clip), ("speech 4.mp4", face_clip)], params="?wait=true")
    assert r.status_code == 201 and r.json()["person"]["version"] == 2
    r = c.post("/v1/scans?filename=x.mp4&claims=Ada%20Lovelace&claims_version=1", content=face_clip.read_bytes())
    assert r.status_code == 202 and r.json()["claims"]["version"] == 1
    wait_for(c, r.json()["id"])
    assert StubEngine.claims[-1] == ("Ada Lovelace", 1)
    r = upload(c, face_clip)  # no claim: no reference check
    assert r.json()["claims"] is None
    wait_for(c, r.json()["id"])
    assert StubEngine.claims[-1] is None


@pytest.mark.parametrize("data,params,words", [
    ({"claims": "Nobody"}, "", "claims: no enrolled person 'Nobody' (GET /v1/people lists them"),
    ({}, "?claims=Nobody", "no enrolled person 'Nobody'"),
    ({"claims": "Ada", "claims_version": "9"}, "", "no enrolled person 'Ada' version 9"),
    ({"claims": "Ada", "claims_version": "two"}, "", "claims_version must be a whole number"),
    ({"claims_version": "1"}, "", "claims_version needs claims"),
    ({"claims": "Ada\x07"}, "", "control characters"),
], ids=["unknown", "unknown-query", "unknown-version", "bad-version", "version-alone", "bad-name"])
def test_claims_are_checked_when_the_scan_is_queued(service, face_clip, tmp_path, data, params, words):
    c = service(start_workers=False)
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'unmask.db'}") as st:
        p = stub_profile("Ada")
        st.people.add("Ada", p.to_bytes(), p.summary())
    with open(face_clip, "rb") as f:
        r = c.post(f"/v1/scans{params}", files={"file": ("a.mp4", f)}, data=data)
    assert r.status_code == 422 and words in r.json()["detail"] and "\n" not in r.json()["detail"], r.text
    assert list(uploads_dir(tmp_path).glob("*")) in ([], [enrol_dir(tmp_path)])
    assert c.get("/v1/scans").json()["total"] == 0


def test_path_scans_take_a_claim_too(service, face_clip, tmp_path):
    allowed = tmp_path / "media"
    allowed.mkdir()
    (allowed / "clip.mp4").write_bytes(face_clip.read_bytes())
    c = service(start_workers=False, allowed_dirs=(allowed.resolve(),))
    assert c.post("/v1/scans", json={"path": str(allowed / "clip.mp4"), "claims": "Nobody"}).status_code == 422
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'unmask.db'}") as st:
        st.people.add("Ada", stub_profile("Ada").to_bytes())
    r = c.post("/v1/scans", json={"path": str(allowed / "clip.mp4"), "claims": "Ada"})
    assert r.status_code == 202 and r.json()["claims"]["name"] == "Ada"


def test_a_person_removed_before_the_scan_runs_fails_it_with_the_reason(service, face_clip, tmp_path):
    api = service(start_workers=False)
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'unmask.db'}") as st:
        st.people.add("Ada", stub_profile("Ada").to_bytes())
    with open(face_clip, "rb") as f:
        sid = api.post("/v1/scans", files={"file": ("a.mp4", f)}, data={"claims": "Ada"}).json()["id"]
    assert api.delete("/v1/people/Ada").status_code == 204
    workers = service()  # the same data directory, now with a worker
    s = wait_for(workers, sid)
    assert s["status"] == "failed"
    assert s["error"] == "the claimed person 'Ada' version 1 is no longer enrolled (removed after this scan was queued)"


def test_enrolment_refusals_are_one_line_and_leave_nothing(service, face_clip, face_image, tmp_path):
    c = service(start_workers=False, max_upload_bytes=1_000_000)
    clip = face_clip.read_bytes()
    cases = [
        (None, [("a.mp4", clip)], 422, "name is required"),
        ("  ", [("a.mp4", clip)], 422, "name: a person's name cannot be empty"),
        ("Ada", [("a.mp4", clip), ("notes.txt", b"not a video\n" * 50)], 415, "notes.txt: "),
        ("Ada", [("a.mp4", clip)], 422, "too little footage of Ada: 4.0 s of video (enrolment needs at least 6 s"),
        ("Ada", [("me.jpg", face_image)], 422, "too little footage of Ada: no video, only photos"),
        ("Ada", [(f"{i}.mp4", b"x") for i in range(21)], 400, "send at most 20 files"),
        ("Ada", [("a.mp4", clip)] * 8, 413, "limit"),
    ]
    for name, files, status, words in cases:
        r = enrol(c, name, files)
        assert r.status_code == status and words in r.json()["detail"] and "\n" not in r.json()["detail"], (words, r.text)
        assert leftovers(tmp_path) == [], words
    assert c.post("/v1/people", content=clip, headers={"content-type": "video/mp4"}).status_code == 400
    assert c.post("/v1/people", data={"name": "Ada"}).status_code == 400  # no file
    assert c.get("/v1/enrolments").json() == [] and c.get("/v1/people").json() == []


def test_a_failed_enrolment_says_why_and_a_deleted_one_stops(service, face_clip, tmp_path, monkeypatch):
    c = service()
    monkeypatch.setenv(MODE_ENV, "fail")
    r = enrol(c, "Ada", [("a.mp4", face_clip), ("b.mp4", face_clip)], params="?wait=true")
    assert r.status_code == 422
    assert r.json()["detail"] == "too little usable footage of Ada: 3 usable face images (needs 5) (stub)"
    (failed,) = c.get("/v1/enrolments?status=failed").json()
    assert failed["error"] == r.json()["detail"] and failed["person"] is None
    assert leftovers(tmp_path) == [] and c.get("/v1/people").json() == []

    monkeypatch.setenv(MODE_ENV, "slow")
    eid = enrol(c, "Bob", [("a.mp4", face_clip), ("b.mp4", face_clip)]).json()["id"]
    deadline = time.monotonic() + 10
    while not (c.get(f"/v1/enrolments/{eid}").json()["stage"] or "").startswith("reading a.mp4"):  # running, with progress
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert c.delete(f"/v1/enrolments/{eid}").status_code == 204
    assert leftovers(tmp_path) == [] and c.get(f"/v1/enrolments/{eid}").status_code == 404
    monkeypatch.setenv(MODE_ENV, "ok")
    assert wait_for(c, upload(c, face_clip).json()["id"])["status"] == "done"  # the worker let go of it
    assert c.get("/v1/people").json() == []


def test_export_and_import_profiles(service, tmp_path):
    c = service(start_workers=False)
    prof = stub_profile("Ada Lovelace")
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'unmask.db'}") as st:
        st.people.add(prof.name, prof.to_bytes(), prof.summary())
    r = c.get("/v1/people/Ada Lovelace/export")
    assert r.status_code == 200 and r.content == prof.to_bytes()
    assert r.headers["content-disposition"] == 'attachment; filename="Ada_Lovelace-v1.unmask-profile.json"'
    assert c.get("/v1/people/Nobody/export").status_code == 404
    assert c.get("/v1/people/Ada Lovelace/export?version=2").status_code == 404

    r = c.post("/v1/people/import?filename=ada.json&name=Augusta Ada King", content=prof.to_bytes(),
               headers={"content-type": "application/json"})
    assert r.status_code == 201 and (r.json()["name"], r.json()["version"]) == ("Augusta Ada King", 1)
    r = c.post("/v1/people/import", files={"file": ("ada.json", prof.to_bytes())})
    assert r.status_code == 201 and (r.json()["name"], r.json()["version"]) == ("Ada Lovelace", 2)
    r = c.post("/v1/people/import", files={"file": ("bad.json", b'{"format": "unmask-person-profile", "format_version": 1}')})
    assert r.status_code == 422 and r.json()["detail"].startswith("bad.json: profile is damaged")
    r = c.post("/v1/people/import", files={"file": ("x.mp4", b"\x00" * 100)})
    assert r.status_code == 422 and "not an unmask profile" in r.json()["detail"]
    assert list(uploads_dir(tmp_path).glob(".partial-*")) == []


def test_people_page_and_claim_select(service, face_clip, tmp_path):
    c = service()
    page = c.get("/people")
    assert page.status_code == 200 and 'id="enrol"' in page.text and "No one enrolled yet" in page.text
    assert "http://" not in page.text and "https://" not in page.text
    assert "enrol someone" in c.get("/").text
    evil = "<b>Ada</b>"
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'unmask.db'}") as st:
        p = stub_profile(evil)
        st.people.add(evil, p.to_bytes(), p.summary())
    enrol(c, "Bob", [("a.mp4", face_clip), ("b.mp4", face_clip)], params="?wait=true")
    page = c.get("/people").text
    assert "&lt;b&gt;Ada&lt;/b&gt;" in page and "<b>Ada" not in page
    assert "/v1/people/%3Cb%3EAda%3C%2Fb%3E/export" in page and "16 s of the face in video" in page
    assert "Recent enrolments" in page and "version 1" in page
    home = c.get("/").text
    assert '<option value="Bob">Bob (v1)</option>' in home and 'value="&lt;b&gt;Ada&lt;/b&gt;"' in home
    with open(face_clip, "rb") as f:
        sid = c.post("/v1/scans", files={"file": ("a.mp4", f)}, data={"claims": "Bob"}).json()["id"]
    assert "Claimed to show <strong>Bob</strong>" in c.get(f"/scans/{sid}").text
    wait_for(c, sid)
    assert "consistent with this person" in c.get(f"/scans/{sid}").text


def test_openapi_documents_the_people_endpoints(service):
    spec = service(start_workers=False).get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/people", "/v1/people/import", "/v1/people/{name}/export", "/v1/enrolments/{enrolment_id}"} <= set(paths)
    form = paths["/v1/people"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"]["type"] == "array" and form["required"] == ["name", "file"]
    scan_form = paths["/v1/scans"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "claims" in scan_form["properties"]


def test_real_enrolment_and_claimed_scan(tmp_path, scanner, face_clip, long_face_clip):
    """The real enroller and scanner behind the API: enrol the portrait, refuse too little footage, check a claim."""
    from fastapi.testclient import TestClient

    from unmask.service.app import create_app
    from unmask.service.settings import ServiceSettings
    from unmask.workers.engine import ScannerEngine

    def factory(config):
        engine = ScannerEngine(config)
        engine._scanners[config.digest()] = scanner  # the session's loaded models
        return engine

    settings = ServiceSettings(data_dir=tmp_path / "data", worker_mode="thread", poll_s=0.05).validate()
    with TestClient(create_app(settings, factory=factory)) as c:
        r = enrol(c, "Astronaut", [("portrait.mp4", long_face_clip), ("again.mp4", face_clip)], params="?wait=true")
        assert r.status_code == 201, r.text
        person = r.json()["person"]
        assert person["version"] == 1 and person["summary"]["mannerism_windows"] >= 1
        assert person["summary"]["embeddings"] >= 5 and r.json()["lines"][0].startswith("portrait.mp4: ")
        prof = json.loads(c.get("/v1/people/Astronaut/export").content)
        assert [f["name"] for f in prof["footage"]] == ["portrait.mp4", "again.mp4"]  # the client's names

        r = enrol(c, "Twice", [("a.mp4", face_clip), ("b.mp4", face_clip)], params="?wait=true")
        assert r.status_code == 422, r.text  # 8 s of video, but no 4 s stretch of face: the enroller says so
        assert r.json()["detail"].startswith("too little usable footage of Twice: ") and "stretches of at least 4 s" in r.json()["detail"]

        with open(face_clip, "rb") as f:
            sid = c.post("/v1/scans", files={"file": ("clip.mp4", f)}, data={"claims": "Astronaut"}).json()["id"]
        s = wait_for(c, sid, timeout=60)
        assert s["status"] == "done", s
        ref = s["report"]["reference"]
        assert ref["claimed"] == "Astronaut" and ref["profile_version"] == 1 and ref["identity"]["score"] > 0.5
        assert s["claims"]["conclusion"] == ref["conclusion"] == "mannerisms_not_checked"  # 4 s: no full window
        html = c.get(f"/v1/scans/{sid}/report.html").text
        assert 'id="reference"' in html and "Astronaut" in html
