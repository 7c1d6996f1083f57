"""``unmask batch --ray``: the same batch on a two-node Ray cluster started here (``ray start``, twice).

The head and a second node each get their own ``--temp-dir``, one CPU and a 200 MB object
store; the actors run the stub engine (tests/batch_stubs.py), so a test costs Ray's start-ups,
not models. The cluster's processes inherit ``BATCH_STUB_LOG`` from the fixture (the driver's
environment does not reach a running cluster), so every test truncates that one shared log.
Skipped, with the reason, where ray is not installed (``pip install 'unmask[ray]'``).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from batch_stubs import LOG_ENV, BatchStubEngine, BrokenStubEngine
from test_batch import VOLATILE, make_files, rows_by_name, scanned

from unmask.batch import BatchLimits, RayOptions, ResultIndex, expand_inputs, run_batch
from unmask.config import ScanConfig
from unmask.errors import BatchError

TESTS = Path(__file__).resolve().parents[1]
SRC = TESTS.parent / "src"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A head node and a worker node on this machine, each a ``ray start --block`` process of ours."""

    def __init__(self, log: Path) -> None:
        self.log = log
        beside = Path(sys.executable).with_name("ray")  # the venv's own `ray`, else the one on PATH
        self.ray_bin = str(beside) if beside.exists() else (shutil.which("ray") or "")
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dirs: list[str] = []
        # no token: Ray reads its auth mode once, when this process first imports it, so a token set here
        # would not reach the driver; the cluster lives on this machine for the module's minute
        self.env = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}

    def _node(self, head: bool) -> Path:
        tmp = tempfile.mkdtemp(prefix="unmask-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
        self.dirs.append(tmp)
        args = [self.ray_bin, "start", "--block", "--num-cpus=1", "--object-store-memory=200000000", f"--temp-dir={tmp}",
                "--disable-usage-stats", f"--dashboard-agent-listen-port={_free_port()}",
                f"--metrics-export-port={_free_port()}", f"--runtime-env-agent-port={_free_port()}"]
        args += ["--head", f"--port={self.port}", "--include-dashboard=false"] if head else [f"--address={self.address}"]
        env = {**os.environ, **self.env, LOG_ENV: str(self.log),
               "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
        out = Path(tmp + ".log")
        with out.open("wb") as log:  # the child has its own copy of the descriptor
            self.procs.append(subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True))
        return out

    def start(self) -> None:
        for head in (True, False):
            log = self._node(head)
            deadline = time.monotonic() + 90
            while "Ray runtime started" not in log.read_text(errors="replace"):
                if self.procs[-1].poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ray start failed: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)  # `ray start --block` stops its own node's processes
        for p in reversed(self.procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)  # the session we started for it
                p.wait(10)
        for d in self.dirs:
            subprocess.run(["rm", "-rf", d, d + ".log"], check=False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'unmask[ray]')")
    c = Cluster(tmp_path_factory.mktemp("ray-log") / "scans.log")
    if not c.ray_bin:
        pytest.skip("ray is installed but its `ray` command is not found (beside python or on PATH)")
    mp = pytest.MonkeyPatch()
    for k, v in c.env.items():
        mp.setenv(k, v)
    t0 = time.perf_counter()
    try:
        c.start()
        print(f"two-node Ray cluster up in {time.perf_counter() - t0:.1f} s")
        yield c
    finally:
        c.stop()
        mp.undo()


@pytest.fixture
def ray_log(cluster, monkeypatch) -> Path:
    cluster.log.write_text("")
    monkeypatch.setenv(LOG_ENV, str(cluster.log))  # the local pool's workers (same test) log there too
    return cluster.log


def on_ray(cluster: Cluster, paths, out, **kw):
    kw.setdefault("factory", BatchStubEngine)
    kw.setdefault("model_version", "test")
    return run_batch(paths, out, ScanConfig(), ray=RayOptions(cluster.address), **kw)


def comparable(out: Path) -> list[dict]:
    rows = sorted(ResultIndex(out / "index.jsonl").rows(), key=lambda r: r["path"])
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def test_ray_gives_the_local_pools_rows(cluster, ray_log, tmp_path):
    files = make_files(tmp_path / "in", {f"f{i}.mp4": bytes([i]) * 50 for i in range(6)}
                       | {"bad.mp4": b"BAD", "bug.mp4": b"BUG", "copy": bytes([1]) * 50})
    local = run_batch(files, tmp_path / "local", ScanConfig(), workers=2, factory=BatchStubEngine, model_version="test")
    ray_log.write_text("")
    s = on_ray(cluster, files, tmp_path / "ray")
    assert comparable(tmp_path / "local") == comparable(tmp_path / "ray")
    assert (s.files, s.scanned, s.errors, s.workers) == (local.files, local.scanned, local.errors, 2)
    assert s.backend == f"ray {cluster.address}"
    if (tmp_path / "ray" / "index.parquet").exists():
        import pyarrow.parquet as pq

        def table(name: str) -> list[dict]:
            return [{k: v for k, v in r.items() if k not in VOLATILE and not k.startswith("timing.")}
                    for r in pq.read_table(tmp_path / name / "index.parquet").to_pylist()]

        assert table("ray") == table("local")
    again = on_ray(cluster, files, tmp_path / "ray")  # resume: only the failures are tried again
    assert (again.resumed, again.scanned) == (7, 2)


def test_poison_files_fail_alone_on_ray(cluster, ray_log, tmp_path):
    files = make_files(tmp_path / "in", {"crash.mp4": b"CRASH", "hang.mp4": b"HANG", "a.mp4": b"a", "b.mp4": b"b",
                                         "bad.mp4": b"BAD"})
    s = on_ray(cluster, files, tmp_path / "out", limits=BatchLimits(timeout_s=1.5))
    rows = rows_by_name(tmp_path / "out")
    assert {n for n, r in rows.items() if r["status"] == "done"} == {"a.mp4", "b.mp4"}
    assert "SIGSEGV" in rows["crash.mp4"]["error"] and rows["crash.mp4"]["attempts"] == 2
    assert "longer than the 1.5 s" in rows["hang.mp4"]["error"] and rows["hang.mp4"]["attempts"] == 2
    assert rows["bad.mp4"]["attempts"] == 1 and "stub" in rows["bad.mp4"]["error"]
    assert s.errors == 3 and s.worker_restarts >= 4
    assert sum(Path(p).name == "crash.mp4" for p in scanned(ray_log)) == 2


def test_an_actor_killed_mid_batch_loses_nothing(cluster, ray_log, tmp_path):
    files = make_files(tmp_path / "in", {f"f{i}.mp4": b"SLOW%d" % i for i in range(6)})
    killed: list[tuple[int, str]] = []

    def kill_first_actor() -> None:  # SIGKILL the Ray worker process (the actor) scanning the first file
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for line in ray_log.read_text().splitlines():
                pid, path = line.split(" ", 1)
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                actor = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("PPid:")))
                os.kill(actor, signal.SIGKILL)
                killed.append((actor, path))
                return
            time.sleep(0.02)

    t = threading.Thread(target=kill_first_actor, daemon=True)
    t.start()
    s = on_ray(cluster, files, tmp_path / "out")
    t.join(5)
    rows = rows_by_name(tmp_path / "out")
    assert killed, "no scan was seen to kill"
    victim = Path(killed[0][1]).name
    assert s.errors == 0 and len(rows) == 6 and all(r["status"] == "done" for r in rows.values())
    assert rows[victim]["attempts"] == 2 and s.worker_restarts >= 1


def test_resume_after_the_ray_driver_is_killed(cluster, ray_log, tmp_path):
    files = make_files(tmp_path / "in", {f"f{i}.mp4": b"SLOW%d" % i for i in range(10)})
    out = tmp_path / "out"
    code = ("import sys; from pathlib import Path; from batch_stubs import BatchStubEngine; "
            "from unmask.batch import RayOptions, run_batch; "
            "run_batch([Path(p) for p in sys.argv[3:]], Path(sys.argv[2]), factory=BatchStubEngine, "
            "model_version='test', ray=RayOptions(sys.argv[1]))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)])}
    proc = subprocess.Popen([sys.executable, "-c", code, cluster.address, str(out), *map(str, files)], env=env)
    index = out / "index.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not index.exists() or index.read_text().count("\n") < 3):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    before = {r["path"] for r in ResultIndex(index).rows() if r["status"] == "done"}
    assert 3 <= len(before) < len(files)
    time.sleep(1)  # the dead driver's actors go with it; a scan in flight may still log its start
    ray_log.write_text("")
    s = on_ray(cluster, files, out)
    assert s.errors == 0 and s.resumed == len(before) and s.scanned == len(files) - len(before)
    assert {r["path"] for r in ResultIndex(index).rows() if r["status"] == "done"} == {str(f) for f in files}
    assert not before & set(scanned(ray_log))  # finished before the kill: never scanned again


def test_cli_ray_checks_the_workers_model_version(cluster, ray_log, tmp_path, monkeypatch, capsys):
    from unmask import cli

    monkeypatch.setattr("unmask.workers.engine.ScannerEngine", BatchStubEngine)
    monkeypatch.setattr("unmask.batch.runner.fusion_version", lambda: "not-what-the-workers-have")
    make_files(tmp_path / "in", {"a.mp4": b"\x00\x00\x00\x18ftypmp42"})
    code = cli.main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), f"--ray={cluster.address}", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "has fusion model" in err and "not-what-the-workers-have" in err, err
    assert scanned(ray_log) == []


def test_workers_that_cannot_start_stop_the_batch_with_why(cluster, ray_log, tmp_path):
    files = make_files(tmp_path / "in", {"a.mp4": b"a", "b.mp4": b"b"})
    with pytest.raises(BatchError, match="could not start on Ray"):
        on_ray(cluster, files, tmp_path / "out", factory=BrokenStubEngine)
    assert scanned(ray_log) == [] and not (tmp_path / "out" / "summary.json").exists()


def test_a_private_local_ray_runs_the_same_batch(tmp_path, monkeypatch):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'unmask[ray]')")
    log = tmp_path / "scans.log"
    # a private Ray's processes inherit this process's environment when ray.init starts them
    monkeypatch.setenv(LOG_ENV, str(log))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(SRC), str(TESTS)]))
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    files = make_files(tmp_path / "in", {"a.mp4": b"a", "b.mp4": b"b", "bad.mp4": b"BAD"})
    make_files(tmp_path / "store", {"c.mkv": b"\x1a\x45\xdf\xa3c"})  # and a folder URL: the actors download it
    folder_url = "file://" + str((tmp_path / "store").resolve()) + "/"
    inputs = [*files, *expand_inputs([folder_url]).paths]
    s = run_batch(inputs, tmp_path / "out", ScanConfig(), workers=2, factory=BatchStubEngine, model_version="test",
                  ray=RayOptions("local", object_store_mb=100))
    assert (s.scanned, s.errors, s.workers, s.backend) == (4, 1, 2, "ray local")
    assert sorted(Path(p).name for p in scanned(log)) == ["a.mp4", "b.mp4", "bad.mp4", "c.mkv"]
    row = next(r for r in ResultIndex(tmp_path / "out" / "index.jsonl").rows() if r["path"] == folder_url + "c.mkv")
    assert row["status"] == "done" and row["sha256"] and (tmp_path / "out" / row["report"]).is_file()
    assert s.limits["threads"] == 1  # an actor's one CPU


def test_cli_without_ray_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    from unmask import cli

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    make_files(tmp_path / "in", {"a.mp4": b"\x00\x00\x00\x18ftypmp42"})
    code = cli.main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--ray", "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "unmask batch --ray needs the ray extra: pip install 'unmask[ray]'" in err
    assert not (tmp_path / "out").exists()
