"""The service never decodes an upload in its own process (issue 13, §3).

``probe_isolated`` runs the probe in a child interpreter capped in memory and CPU; the service
runs at most ``max_probes`` of them at once. A decompression bomb is refused there, in one line.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from pathlib import Path

import pytest

from unmask import synth
from unmask.config import SamplingConfig
from unmask.errors import MediaTooLarge, MissingInput, UnsupportedMedia
from unmask.media.probe import probe
from unmask.media.sandbox import ProbeLimits, probe_isolated

S = SamplingConfig()


def test_the_child_says_what_the_probe_says(face_clip: Path) -> None:
    assert probe_isolated(face_clip, S) == probe(face_clip, S)


@pytest.mark.parametrize("small_first", [False, True], ids=["bomb-first", "bomb-after-a-small-frame"])
def test_a_bomb_is_refused_in_the_child(tmp_path: Path, small_first: bool) -> None:
    bomb = synth.write_png_bomb(tmp_path / "bomb.mkv", small_first=small_first)
    if small_first:  # the probe reads one picture: the bomb behind it is the scan's to refuse (test_bad_inputs)
        assert probe_isolated(bomb, S).width == 64
    else:
        with pytest.raises(MediaTooLarge, match="pixel limit"):
            probe_isolated(bomb, S)


def test_errors_come_back_as_their_own_class(tmp_path: Path) -> None:
    with pytest.raises(MissingInput, match="no such file") as e:
        probe_isolated(tmp_path / "gone.mp4", S)
    assert e.value.path == str(tmp_path / "gone.mp4")
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(UnsupportedMedia, match="not a video or image file"):
        probe_isolated(tmp_path / "notes.mp4", S)


def test_a_probe_over_its_memory_is_refused_in_one_line(tmp_path: Path) -> None:
    import numpy as np

    big = synth.write_image(tmp_path / "8k.png", np.zeros((4320, 7680, 3), np.uint8))
    with pytest.raises(MediaTooLarge, match="needs more than the 256 MB a probe may use"):
        probe_isolated(big, S, ProbeLimits(memory_mb=256))


def test_a_probe_over_its_time_is_refused(face_clip: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="could not be opened within 0.01 s"):
        probe_isolated(face_clip, S, ProbeLimits(wall_s=0.01))


def test_the_service_runs_a_bounded_number_of_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unmask.service import state as app_module
    from unmask.service.settings import ServiceSettings
    from unmask.service.state import Service

    running, peak, lock = 0, 0, threading.Lock()

    def slow_probe(path, sampling, limits):  # stands in for the child process
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return "probed"

    monkeypatch.setattr(app_module, "probe_isolated", slow_probe)
    svc = Service(ServiceSettings(data_dir=tmp_path, max_probes=2).validate(), factory=None, start_workers=False)  # type: ignore[arg-type]

    async def many() -> list:
        return await asyncio.gather(*(svc.probe(tmp_path / f"{i}.mp4") for i in range(7)))

    assert asyncio.run(many()) == ["probed"] * 7
    assert peak == 2


def test_service_settings_check_probe_limits(tmp_path: Path) -> None:
    from unmask.errors import ConfigError
    from unmask.service.settings import ServiceSettings

    for bad in (dict(max_probes=0), dict(probe_mode="fork"), dict(probe_limits=ProbeLimits(memory_mb=10))):
        with pytest.raises(ConfigError):
            ServiceSettings(data_dir=tmp_path, **bad).validate()
    assert dataclasses.asdict(ServiceSettings(data_dir=tmp_path).probe_limits) == {"memory_mb": 1024, "cpu_s": 30, "wall_s": 60.0}


def test_an_uploaded_bomb_is_refused_with_one_line(service, tmp_path: Path) -> None:
    """Through the API, with the real child-process probe: 422 and one line; nothing is queued."""
    from service_stubs import upload

    client = service(probe_mode="process", start_workers=False)
    bomb = synth.write_png_bomb(tmp_path / "holiday.mkv")
    r = upload(client, bomb)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail.startswith("holiday.mkv: a picture") and "pixel limit" in detail and "\n" not in detail
    assert client.get("/v1/scans").json()["total"] == 0
