"""Probe an untrusted file in a child process with memory and CPU limits, so the caller never decodes it.

``probe`` decodes a file's first picture, and a hostile file can make that picture
16000x16000 (0.8 GB) or make the decoder spin. The HTTP service probes every
upload before queueing it; doing that inside the web process would let four
uploads at once cost it 3 GB. :func:`probe_isolated` runs :func:`~unmask.media.probe.probe`
in a fresh interpreter (``python -m unmask.media.sandbox``) that first caps its own
address space (``RLIMIT_AS``) and CPU time (``RLIMIT_CPU``), and is killed after
a wall-clock limit. Its answer comes back as JSON: the ``MediaInfo``, or the
``InputError`` it raised, re-raised here as the same class and one-line problem.
A child that runs out of memory or time becomes ``MediaTooLarge`` or
``UnsupportedMedia`` saying so. A fresh interpreter rather than a fork: the
service's process has threads and sockets a fork would copy.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from unmask import errors
from unmask.capped_child import cap_this_process, one_json_answer
from unmask.config import SamplingConfig
from unmask.errors import InputError, MediaTooLarge, UnsupportedMedia
from unmask.types import MediaInfo

#: the error classes a child may report (never an arbitrary name to look up)
_ERRORS: dict[str, type[InputError]] = {
    cls.__name__: cls for cls in (errors.MissingInput, errors.NotAFile, errors.UnreadableInput, errors.EmptyInput,
                                  errors.UnsupportedMedia, errors.NoVideoStream, errors.MediaTooLarge)
}


@dataclass(frozen=True)
class ProbeLimits:
    """What one probe may cost. The defaults fit an 8K picture (the pixel limit) with room to spare."""

    memory_mb: int = 1024  # address space of the child, libraries included (a bare child maps ~0.4 GB)
    cpu_s: int = 30  # CPU seconds (hashing 2 GB takes ~5)
    wall_s: float = 60.0  # killed after this long, CPU or not (a file that blocks, a machine under load)

    def validate(self) -> ProbeLimits:
        if self.memory_mb < 256 or self.cpu_s < 1 or self.wall_s <= 0:
            raise errors.ConfigError("probe limits: memory at least 256 MB, CPU at least 1 s, wall time positive")
        return self


def probe_isolated(path: str | Path, sampling: SamplingConfig, limits: ProbeLimits = ProbeLimits()) -> MediaInfo:
    """:func:`~unmask.media.probe.probe` in a child process under ``limits``; raises the ``InputError`` it raises."""
    p = Path(path)
    request = json.dumps({"path": os.fspath(p), "sampling": dataclasses.asdict(sampling),
                          "memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s})
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    try:
        proc = subprocess.run([sys.executable, "-m", "unmask.media.sandbox"], input=request.encode(),
                              capture_output=True, timeout=limits.wall_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise UnsupportedMedia(p, f"could not be opened within {limits.wall_s:g} s; refused") from None
    answer = one_json_answer(proc.stdout)
    if answer is None:
        raise _death(p, proc.returncode, limits)
    if "info" in answer:
        fields = answer["info"]
        if not isinstance(fields, dict):
            raise _death(p, proc.returncode, limits)
        return MediaInfo(**{**fields, "path": str(path)})
    cls = _ERRORS.get(str(answer.get("error")), UnsupportedMedia)
    raise cls(p, str(answer.get("problem", "cannot be read"))[:300])


def _death(p: Path, returncode: int, limits: ProbeLimits) -> InputError:
    """Why a child gave no answer, as the error its file deserves."""
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return UnsupportedMedia(p, f"opening it took more than the {limits.cpu_s} s of CPU a probe may use; refused")
    if returncode in (-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS):
        # what a native decoder does when an allocation under the memory cap fails without a check
        return MediaTooLarge(p, f"opening it needs more than the {limits.memory_mb} MB a probe may use; refused")
    return UnsupportedMedia(p, f"the probe of this file failed (exit status {returncode}); refused")


def _child() -> int:
    """Entry point of the child: cap this process, then probe, and print one JSON line."""
    request = json.loads(sys.stdin.buffer.read().decode("utf-8", "surrogateescape"))
    cap_this_process(request["memory_mb"], request["cpu_s"])
    answer: dict[str, object]
    try:
        from unmask.media.probe import probe  # imported under the limits: libraries count too

        info = probe(request["path"], SamplingConfig(**request["sampling"]))
        answer = {"info": dataclasses.asdict(info)}
    except InputError as e:
        if "allocate memory" in e.problem or "MemoryError" in e.problem:  # ENOMEM under the cap: it asks too much
            cap = request["memory_mb"]
            e = MediaTooLarge(e.path, f"opening it needs more than the {cap} MB a probe may use; refused")
        answer = {"error": type(e).__name__, "problem": e.problem}
    except MemoryError:
        answer = {"error": "MediaTooLarge",
                  "problem": f"opening it needs more than the {request['memory_mb']} MB a probe may use; refused"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child())
