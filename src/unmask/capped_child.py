"""What every child process that reads an untrusted file shares: its limits and its one-line answer.

The service's probe (:mod:`unmask.media.sandbox`) and the Content Credentials reader
(:mod:`unmask.provenance.credentials`) each run in a child capped in memory and CPU, which
prints one JSON line. Kept free of heavy imports: the child pays for this module at start-up.
"""

from __future__ import annotations

import json

_MAX_ANSWER = 1 << 20  # bytes of JSON a child may send back


def one_json_answer(stdout: bytes) -> dict[str, object] | None:
    """The last line a capped child printed, as a JSON object; None when it sent nothing usable."""
    if not stdout or len(stdout) > _MAX_ANSWER:
        return None
    try:
        answer = json.loads(stdout.decode("utf-8", "surrogateescape").strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None
    return answer if isinstance(answer, dict) else None


def cap_this_process(memory_mb: int, cpu_s: int) -> None:
    """Address-space and CPU limits for a child that reads untrusted files, and no core dumps."""
    import resource

    mem = int(memory_mb) << 20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_s), int(cpu_s) + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
