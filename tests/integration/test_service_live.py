"""The service as people run it: `unmask serve` in its own process with the real scanner.

A browser (Debian chromium driven by Playwright, no network) uploads a clip and reads the
verdict, and enrols a person and checks a claim (against the stub engine, so it stays fast);
a server killed mid-scan is restarted and finishes the scan; a worker process that keeps dying
on a file gets it failed with the reason instead of looping.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from unmask.report.build import LABEL_WORDS
from unmask.store import Store

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("UNMASK_TEST_ARTIFACTS", REPO / "test-artifacts"))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _no_browser() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"Debian chromium not installed at {CHROMIUM} (apt-get install -y chromium; .ci/run does)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    return None


@contextmanager
def serve(data_dir: Path, *extra: str, timeout: float = 60.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """`unmask serve --port 0` on loopback; yields its base URL. SIGTERM (graceful) on exit unless already dead."""
    env = {k: v for k, v in os.environ.items() if k not in ("UNMASK_API_TOKENS", "UNMASK_DATABASE_URL")}
    proc = subprocess.Popen([sys.executable, "-m", "unmask.cli", "serve", "--port", "0", "--data-dir", str(data_dir), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = _read_line(proc, timeout)
        assert line.startswith("unmask: serving on "), line
        url = line.split()[3]
        _wait_healthy(url, proc, timeout)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        proc.kill()
        raise AssertionError(f"server printed nothing in {timeout} s: {proc.stderr.read()[-2000:]}")
    line = proc.stdout.readline().strip()
    if not line:
        raise AssertionError(f"server exited ({proc.wait()}): {proc.stderr.read()[-2000:]}")
    return line


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
                if json.load(r)["workers_alive"] >= 1:
                    return
        except OSError:
            pass
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}): {proc.stderr.read()[-2000:]}")
        time.sleep(0.2)
    raise AssertionError("server never became healthy")


def _upload(url: str, path: Path) -> str:
    req = urllib.request.Request(f"{url}/v1/scans?filename={path.name}", data=path.read_bytes(), method="POST",
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 202
        return str(json.load(r)["id"])


def _status(url: str, sid: str) -> dict:
    with urllib.request.urlopen(f"{url}/v1/scans/{sid}?report=false", timeout=10) as r:
        return dict(json.load(r))


def _wait(url: str, sid: str, until, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = _status(url, sid)
        if until(s):
            return s
        time.sleep(0.1)
    raise AssertionError(f"scan {sid}: still {s} after {timeout} s")


def _gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie child of nobody we wait for counts as gone
            if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z"):
                return True
        except (OSError, IndexError):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture(scope="module")
def long_clip(long_face_clip) -> Path:
    """6 s of the drifting portrait: a scan long enough to interrupt."""
    return long_face_clip


def test_stopped_or_killed_server_loses_no_scan(tmp_path, long_clip):
    data = tmp_path / "data"
    with serve(data) as (url, proc):
        sid = _upload(url, long_clip)
        _wait(url, sid, lambda s: s["status"] == "running" and s["progress"] >= 0.05, timeout=90)
        proc.send_signal(signal.SIGTERM)  # a graceful stop puts the scan back without counting the attempt
        assert proc.wait(30) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after shutting down
    with Store.open(f"sqlite:///{data / 'unmask.db'}") as st:
        rec = st.scans.get(sid)
        assert (rec.status, rec.attempts) == ("queued", 0), rec
    with serve(data) as (url, proc):
        _wait(url, sid, lambda s: s["status"] == "running" and s["progress"] >= 0.05, timeout=90)
        with Store.open(f"sqlite:///{data / 'unmask.db'}") as st:
            worker = st.scans.get(sid).worker
        proc.kill()  # SIGKILL: no chance to clean up
        proc.wait()
    worker_pid = int(worker.split(":")[1])
    assert _gone(worker_pid), "the worker outlived the server it belonged to"
    with Store.open(f"sqlite:///{data / 'unmask.db'}") as st:
        assert st.scans.get(sid).status == "running"  # as the crash left it
    with serve(data) as (url, proc):
        s = _wait(url, sid, lambda s: s["status"] in ("done", "failed"), timeout=120)
        assert s["status"] == "done" and s["attempts"] == 2, s  # the killed attempt counts
        with urllib.request.urlopen(f"{url}/v1/scans/{sid}/report.html", timeout=10) as r:
            assert b"data-label=" in r.read()


@pytest.mark.skipif(_no_browser() is not None, reason=_no_browser() or "")
def test_browser_uploads_a_clip_and_reads_the_verdict(tmp_path, face_clip):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve(tmp_path / "data") as (url, _), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            elsewhere: list[str] = []

            def only_this_server(route) -> None:  # the app must work with no network
                if route.request.url.startswith(url):
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_this_server)
            page.goto(url + "/")
            page.set_input_files("#file", str(face_clip))
            page.click("#go")
            page.wait_for_url("**/scans/*", timeout=30_000)
            page.wait_for_selector("#verdict", timeout=120_000)
            label = page.get_attribute("#verdict", "data-label")
            assert label in LABEL_WORDS
            assert LABEL_WORDS[label] in page.inner_text("#verdict")
            report = page.frame_locator("#report")
            report.locator("#verdict").wait_for(timeout=30_000)
            assert report.locator("#verdict").get_attribute("data-label") == label
            assert report.locator(".face img").count() >= 1  # thumbnails arrived as data: URIs
            page.screenshot(path=str(ARTIFACTS / "e2e-scan-page.png"), full_page=False)
            page.goto(url + "/")
            assert LABEL_WORDS[label] in page.inner_text("#scans")
            page.screenshot(path=str(ARTIFACTS / "e2e-scan-list.png"))
            assert elsewhere == []
        finally:
            browser.close()


def test_a_file_that_keeps_killing_its_worker_is_failed_with_the_reason(tmp_path, face_clip, face_clip_report, monkeypatch):
    """Process workers with the stub engine: kill the worker twice mid-scan; the pool replaces it, then gives up."""
    from fastapi.testclient import TestClient
    from service_stubs import MODE_ENV, REPORT_ENV, StubEngine

    from unmask.service.app import create_app
    from unmask.service.settings import ServiceSettings

    canned = tmp_path / "canned.json"
    canned.write_text(face_clip_report.to_json())
    monkeypatch.setenv(REPORT_ENV, str(canned))
    monkeypatch.setenv(MODE_ENV, "slow")
    settings = ServiceSettings(data_dir=tmp_path / "data", poll_s=0.1, heartbeat_s=0.5, max_attempts=2).validate()
    with TestClient(create_app(settings, factory=StubEngine)) as c:
        with open(face_clip, "rb") as f:
            sid = c.post("/v1/scans", files={"file": ("a.mp4", f)}).json()["id"]
        store = c.app.state.service.store
        for attempt in (1, 2):
            deadline = time.monotonic() + 60
            while (rec := store.scans.get(sid)).status != "running" or rec.attempts != attempt or rec.progress <= 0:
                assert time.monotonic() < deadline, rec
                time.sleep(0.05)
            os.kill(int(rec.worker.split(":")[1]), signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (rec := store.scans.get(sid)).status != "failed":
            assert time.monotonic() < deadline, rec
            time.sleep(0.1)
        assert rec.error == "interrupted 2 times: the scanning process died (killed by signal 9); not retried again"
        assert c.get("/healthz").json()["workers_alive"] == 1  # replaced


@contextmanager
def serve_in_thread(settings) -> Iterator[str]:
    """The app with the stub engine (thread workers) behind a real uvicorn on a free port, in this process."""
    import threading

    import uvicorn
    from service_stubs import StubEngine

    from unmask.service.app import create_app
    from unmask.service.server import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, factory=StubEngine), log_level="warning", access_log=False))
    t = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline and t.is_alive(), "server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        t.join(20)
        sock.close()


@pytest.mark.skipif(_no_browser() is not None, reason=_no_browser() or "")
def test_browser_enrols_a_person_and_checks_a_claim(tmp_path, face_clip, canned_report, monkeypatch):
    """The people page and the claim select, driven in Chromium against the stub engine (fast: no models)."""
    from playwright.sync_api import sync_playwright
    from service_stubs import MODE_ENV, REPORT_ENV

    from unmask.service.settings import ServiceSettings

    monkeypatch.setenv(REPORT_ENV, str(canned_report))
    monkeypatch.delenv(MODE_ENV, raising=False)
    settings = ServiceSettings(data_dir=tmp_path / "data", worker_mode="thread", poll_s=0.05).validate()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with serve_in_thread(settings) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1000})
            page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
            page.goto(url + "/people")
            page.fill("#name", "Ada Lovelace")
            page.set_input_files("#files", [str(face_clip), str(face_clip)])
            page.click("#enrol-go")
            page.wait_for_selector("#people", timeout=30_000)  # the page reloads once the enrolment is done
            assert "Ada Lovelace" in page.inner_text("#people") and "done" in page.inner_text("#enrolments")
            page.screenshot(path=str(ARTIFACTS / "e2e-people.png"))
            page.goto(url + "/")
            page.select_option("#claims", "Ada Lovelace")
            page.set_input_files("#file", str(face_clip))
            page.click("#go")
            page.wait_for_url("**/scans/*", timeout=30_000)
            page.wait_for_selector("#verdict", timeout=30_000)
            assert "Claimed to show Ada Lovelace" in page.inner_text("#claim")
            report = page.frame_locator("#report")
            report.locator("#reference").wait_for(timeout=30_000)
            assert report.locator("#reference").get_attribute("data-conclusion") == "consistent"
            page.goto(url + "/people")
            page.once("dialog", lambda d: d.accept())
            page.click("button.remove")
            page.wait_for_selector("#nobody", timeout=30_000)
        finally:
            browser.close()
