"""The HTTP API and web app over a stub scanner (thread workers): uploads, sniffing, limits, auth, paths, the queue."""

from __future__ import annotations

import json
import os

import pytest
from service_stubs import MODE_ENV, StubEngine, upload, uploads_dir, wait_for

from unmask.errors import ConfigError
from unmask.service.settings import ServiceSettings
from unmask.store import Store

TOKEN = "t0ken-for-the-tests-0123456789"


def test_upload_scan_report_and_delete(service, face_clip, face_clip_report, tmp_path):
    c = service()
    r = upload(c, face_clip, name="clip of the day.mp4")
    assert r.status_code == 202, r.text
    scan = r.json()
    assert r.headers["location"] == f"/v1/scans/{scan['id']}" and scan["status"] == "queued"
    assert scan["sha256"] == face_clip_report.data["input"]["sha256"]
    stored = uploads_dir(tmp_path) / scan["id"]
    assert stored.read_bytes() == face_clip.read_bytes()  # under the server's name, not the client's

    done = wait_for(c, scan["id"])
    assert done["status"] == "done" and done["progress"] == 1.0 and done["attempts"] == 1
    assert done["label"] == face_clip_report.label
    assert done["report"]["input"]["path"] == "clip of the day.mp4"  # never the server path
    assert done["report"]["verdict"] == face_clip_report.data["verdict"]
    assert c.get(f"/v1/scans/{scan['id']}?report=false").json()["report"] is None

    html = c.get(f"/v1/scans/{scan['id']}/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in html.headers["content-security-policy"]
    assert f'data-label="{face_clip_report.label}"' in html.text and scan["id"] in html.text
    dl = c.get(f"/v1/scans/{scan['id']}/report.html?download=1")
    assert dl.headers["content-disposition"] == 'attachment; filename="unmask-clip_of_the_day.html"'

    listed = c.get("/v1/scans").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == scan["id"]

    assert c.delete(f"/v1/scans/{scan['id']}").status_code == 204
    assert not stored.exists()
    assert c.get(f"/v1/scans/{scan['id']}").status_code == 404
    assert c.get(f"/v1/scans/{scan['id']}/report.html").status_code == 404
    assert c.delete(f"/v1/scans/{scan['id']}").status_code == 404


@pytest.mark.parametrize("content,status,words", [
    (b"just some text, not a video\n" * 20, 415, "not a video or image"),
    (b"", 415, "empty"),
    (b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000), 415, "not a video or image"),
], ids=["text", "empty", "truncated-mp4"])
def test_non_media_is_refused_early_and_leaves_nothing(service, tmp_path, content, status, words):
    c = service(start_workers=False)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    r = upload(c, bad)
    assert r.status_code == status and words in r.json()["detail"] and r.json()["detail"].startswith("bad.mp4: ")
    assert "\n" not in r.json()["detail"]
    assert list(uploads_dir(tmp_path).iterdir()) == [] and c.get("/v1/scans").json()["total"] == 0


def test_upload_limit(service, face_clip, tmp_path):
    c = service(start_workers=False, max_upload_bytes=100_000)
    r = upload(c, face_clip)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = c.post("/v1/scans?filename=x.mp4", content=face_clip.read_bytes())
    assert r.status_code == 413
    assert list(uploads_dir(tmp_path).iterdir()) == []


def test_raw_body_upload_and_hostile_names(service, face_clip, tmp_path):
    c = service(start_workers=False)
    r = c.post("/v1/scans?filename=../../etc/passwd", content=face_clip.read_bytes(),
               headers={"content-type": "video/mp4"})
    assert r.status_code == 202 and r.json()["source_name"] == "passwd"
    r = upload(c, face_clip, name="..\\..\\evil.mp4")
    assert r.status_code == 202 and r.json()["source_name"] == "evil.mp4"
    names = sorted(p.name for p in uploads_dir(tmp_path).iterdir())
    assert names == sorted(s["id"] for s in c.get("/v1/scans").json()["items"])


@pytest.mark.parametrize("raw,shown", [
    ("../../etc/passwd", "passwd"), ("C:\\Users\\x\\clip.mp4", "clip.mp4"), ("bad\x00\x1bname.mp4", "badname.mp4"),
    ("..", "upload"), ("", "upload"), ("x" * 300, "x" * 200),
], ids=["traversal", "windows", "control-chars", "dotdot", "empty", "long"])
def test_display_names(raw, shown):
    from unmask.service.uploads import display_name

    assert display_name(raw) == shown


@pytest.mark.parametrize("files,data,detail", [
    ({}, {"settings": "{}"}, "no file"),
    ({"video": ("a.mp4", b"x")}, {}, "unexpected file field"),
], ids=["no-file", "wrong-field"])
def test_malformed_uploads(service, files, data, detail):
    c = service(start_workers=False)
    r = c.post("/v1/scans", files=files or {"settings": (None, "{}")}, data=data)
    assert r.status_code == 400 and detail in r.json()["detail"]


def test_scan_settings_reach_the_engine_and_bad_ones_are_refused(service, face_clip):
    c = service()
    with open(face_clip, "rb") as f:
        r = c.post("/v1/scans", files={"file": ("a.mp4", f)}, data={"settings": json.dumps({"sampling.fps": 4})})
    assert r.status_code == 202
    wait_for(c, r.json()["id"])
    assert StubEngine.calls[-1][1] == {"sampling.fps": 4}
    for bad, words in (({"sampling.fps": -1}, "must be positive"), ({"nope": 1}, "unknown setting"), ("[1]", "JSON object")):
        with open(face_clip, "rb") as f:
            r = c.post("/v1/scans", files={"file": ("a.mp4", f)},
                       data={"settings": bad if isinstance(bad, str) else json.dumps(bad)})
        assert r.status_code == 422 and words in r.json()["detail"], r.text


def test_server_side_paths_only_inside_allowed_dirs(service, face_clip, tmp_path):
    allowed = tmp_path / "media"
    allowed.mkdir()
    inside = allowed / "clip.mp4"
    inside.write_bytes(face_clip.read_bytes())
    outside = tmp_path / "outside.mp4"
    outside.write_bytes(face_clip.read_bytes())
    (allowed / "escape.mp4").symlink_to(outside)  # points outside the allowed directory
    c = service(start_workers=False)
    assert c.post("/v1/scans", json={"path": str(inside)}).status_code == 403  # not enabled
    c = service(start_workers=False, allowed_dirs=(allowed.resolve(),), data_dir=tmp_path / "data2")
    r = c.post("/v1/scans", json={"path": str(inside)})
    assert r.status_code == 202 and r.json()["source_name"] == str(inside)
    cases = [(str(allowed / "escape.mp4"), 403), (str(allowed / ".." / "outside.mp4"), 403), ("/etc/hostname", 403),
             (str(tmp_path / "nothing-here.mp4"), 403),
             ("clip.mp4", 422), (str(allowed / "missing.mp4"), 422)]
    for path, status in cases:
        assert c.post("/v1/scans", json={"path": path}).status_code == status, path
    assert c.delete(f"/v1/scans/{r.json()['id']}").status_code == 204
    assert inside.exists()  # the operator's files are never deleted


def test_failed_scans_say_why(service, face_clip, monkeypatch):
    c = service()
    monkeypatch.setenv(MODE_ENV, "fail")
    sid = upload(c, face_clip).json()["id"]
    s = wait_for(c, sid)
    assert s["status"] == "failed" and s["error"] == "not a video or image file we can read (stub)"  # no server path
    r = c.get(f"/v1/scans/{sid}/report.html")
    assert r.status_code == 409 and "failed" in r.json()["detail"]
    monkeypatch.setenv(MODE_ENV, "crash")
    s = wait_for(c, upload(c, face_clip).json()["id"])
    assert s["status"] == "failed" and "internal error (RuntimeError: stub bug)" in s["error"]


def test_deleting_a_running_scan_stops_it(service, face_clip, tmp_path, monkeypatch):
    monkeypatch.setenv(MODE_ENV, "slow")
    c = service()
    sid = upload(c, face_clip).json()["id"]
    wait_for(c, sid, statuses=("running",))
    assert c.delete(f"/v1/scans/{sid}").status_code == 204
    monkeypatch.setenv(MODE_ENV, "ok")
    nxt = upload(c, face_clip).json()["id"]
    assert wait_for(c, nxt)["status"] == "done"  # the worker let go of the deleted one


def test_queue_limit_and_paging(service, face_clip):
    c = service(start_workers=False, max_queued=3)
    ids = [upload(c, face_clip, name=f"{i}.mp4").json()["id"] for i in range(3)]
    r = upload(c, face_clip)
    assert r.status_code == 503 and r.headers["retry-after"] and "queue is full" in r.json()["detail"]
    page = c.get("/v1/scans?limit=2").json()
    assert [s["id"] for s in page["items"]] == ids[::-1][:2] and page["next_offset"] == 2 and page["total"] == 3
    assert [s["id"] for s in c.get("/v1/scans?limit=2&offset=2").json()["items"]] == [ids[0]]
    assert c.get("/v1/scans?status=queued").json()["total"] == 3
    assert c.get("/v1/scans?status=bogus").status_code == 422
    assert c.get("/v1/scans?limit=0").status_code == 422


def test_token_auth(service, face_clip):
    c = service(start_workers=False, tokens=(TOKEN,))
    assert c.get("/v1/scans").status_code == 401
    r = c.get("/v1/scans", headers={"Authorization": "Bearer wrong-token-wrong-token"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert upload(c, face_clip).status_code == 401
    ok = {"Authorization": f"Bearer {TOKEN}"}
    assert c.get("/v1/scans", headers=ok).status_code == 200
    assert upload(c, face_clip, headers=ok).status_code == 202
    assert c.get("/healthz").status_code == 200 and c.get("/openapi.json").status_code == 200

    r = c.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/"
    assert c.post("/login", data={"token": "nope", "next": "/"}).status_code == 401
    r = c.post("/login", data={"token": TOKEN, "next": "//evil.example/"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"  # no open redirect
    assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    assert c.get("/").status_code == 200 and c.get("/v1/scans").status_code == 200  # the cookie now
    c.get("/logout")
    assert c.get("/v1/scans").status_code == 401


@pytest.mark.parametrize("kw,ok", [
    (dict(host="0.0.0.0"), False),
    (dict(host="0.0.0.0", insecure_no_auth=True), True),
    (dict(host="0.0.0.0", tokens=(TOKEN,)), True),
    (dict(host="::1"), True),
    (dict(host="localhost"), True),
    (dict(tokens=("short",)), False),
    (dict(workers=0), False),
    (dict(port=70000), False),
], ids=["open-lan", "insecure-flag", "tokens", "ipv6-loopback", "localhost", "short-token", "no-workers", "bad-port"])
def test_settings_refuse_an_open_server_beyond_localhost(tmp_path, kw, ok):
    s = ServiceSettings(data_dir=tmp_path, **kw)
    if ok:
        s.validate()
    else:
        with pytest.raises(ConfigError):
            s.validate()


def test_settings_from_environment(tmp_path):
    s = ServiceSettings.from_env({"UNMASK_API_TOKENS": f" {TOKEN} ,, other-token-0123456789 ",
                                  "UNMASK_DATA_DIR": str(tmp_path), "UNMASK_DATABASE_URL": "sqlite:///x.db"},
                                 host="0.0.0.0", workers=2)
    assert s.tokens == (TOKEN, "other-token-0123456789") and s.auth_required and s.workers == 2
    assert s.data_dir == tmp_path and s.url == "sqlite:///x.db" and s.uploads_dir == tmp_path / "uploads"


def test_people_endpoints(service, tmp_path):
    c = service(start_workers=False)
    with Store.open(f"sqlite:///{tmp_path / 'data' / 'unmask.db'}") as st:
        st.people.add("Ada Lovelace", b"12345", {"faces": 3})
        st.people.add("Ada Lovelace", b"123456", {"faces": 5})
    people = c.get("/v1/people").json()
    assert [(p["name"], p["version"], p["profile_bytes"], p["summary"]) for p in people] == [("Ada Lovelace", 2, 6, {"faces": 5})]
    assert [p["version"] for p in c.get("/v1/people/Ada Lovelace").json()] == [1, 2]
    assert c.delete("/v1/people/Ada Lovelace?version=1").status_code == 204
    assert c.delete("/v1/people/Ada Lovelace").status_code == 204
    assert c.get("/v1/people/Ada Lovelace").status_code == 404


def test_web_pages(service, face_clip, monkeypatch):
    c = service()
    home = c.get("/")
    assert home.status_code == 200 and 'id="upload"' in home.text and "No scans yet" in home.text
    assert "http://" not in home.text and "https://" not in home.text  # works with no network
    sid = upload(c, face_clip, name="<b>x<script>.mp4").json()["id"]
    done = wait_for(c, sid)
    home = c.get("/").text
    assert "&lt;b&gt;x&lt;script&gt;.mp4" in home and "<b>x" not in home
    page = c.get(f"/scans/{sid}").text
    assert f'data-label="{done["label"]}"' in page and f'src="/v1/scans/{sid}/report.html"' in page
    assert c.get("/scans/nope").status_code == 404
    monkeypatch.setenv(MODE_ENV, "slow")
    running = upload(c, face_clip).json()["id"]
    wait_for(c, running, statuses=("running",))
    assert '<progress id="bar"' in c.get(f"/scans/{running}").text
    c.delete(f"/v1/scans/{running}")


def test_openapi_and_offline_docs(service):
    c = service(start_workers=False)
    spec = c.get("/openapi.json").json()
    assert {"/v1/scans", "/v1/scans/{scan_id}", "/v1/scans/{scan_id}/report.html", "/v1/people"} <= set(spec["paths"])
    assert "multipart/form-data" in spec["paths"]["/v1/scans"]["post"]["requestBody"]["content"]
    docs = c.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert c.get("/docs-assets/swagger-ui-bundle.js").status_code == 200


def test_startup_cleans_orphan_uploads(service, tmp_path):
    up = uploads_dir(tmp_path)
    up.mkdir(parents=True)
    (up / ".partial-abc").write_bytes(b"x")
    (up / "0123456789abcdef0123456789abcdef").write_bytes(b"x")  # no scan row: a crash between file and row
    service(start_workers=False)
    assert list(up.iterdir()) == []


def test_serve_refuses_with_one_line(tmp_path, capsys, monkeypatch):
    from unmask.cli import main

    monkeypatch.delenv("UNMASK_API_TOKENS", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--data-dir", str(tmp_path)]) == 1
    assert "refusing to serve on 0.0.0.0 without API tokens" in capsys.readouterr().err
    monkeypatch.setenv("UNMASK_DATABASE_URL", "postgresql://u:secret@127.0.0.1:1/db")
    assert main(["serve", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "cannot open the database" in err and "secret" not in err and len(err.strip().splitlines()) == 1


def test_a_busy_port_is_one_line():
    from unmask.errors import UnmaskError
    from unmask.service.server import bind

    first = bind("127.0.0.1", 0)
    try:
        with pytest.raises(UnmaskError, match="cannot listen on 127.0.0.1:.*in use"):
            bind("127.0.0.1", first.getsockname()[1])
    finally:
        first.close()
