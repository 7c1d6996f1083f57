"""The service's settings, validated once at the edge (``unmask serve`` flags and environment).

Environment: ``UNMASK_API_TOKENS`` (comma-separated bearer tokens), ``UNMASK_DATABASE_URL``,
``UNMASK_DATA_DIR``. Beyond loopback the service refuses to start without tokens unless
told ``insecure_no_auth``: a scan service on a network must not be open by accident.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from unmask.config import ScanConfig
from unmask.errors import ConfigError
from unmask.media.sandbox import ProbeLimits
from unmask.store.paths import data_dir as default_data_dir

DEFAULT_MAX_UPLOAD = 2 * 1024**3  # 2 GiB
MIN_TOKEN_CHARS = 16


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # scans at once; each worker is a process with its own models (~1 GB)
    data_dir: Path = field(default_factory=default_data_dir)
    database_url: str | None = None  # None: SQLite in data_dir
    tokens: tuple[str, ...] = ()
    insecure_no_auth: bool = False
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD
    allowed_dirs: tuple[Path, ...] = ()  # server-side paths a client may ask to scan
    max_queued: int = 1000  # more waiting scans than this: 503, try later
    scan_config: ScanConfig = field(default_factory=ScanConfig)
    worker_mode: str = "process"  # "process" (isolated, default) or "thread" (tests, tiny deployments)
    worker_nice: int = 10  # workers yield the CPU to the API so status calls stay fast
    stale_after_s: float = 60.0  # a running scan without a heartbeat this long is taken as abandoned
    max_attempts: int = 2  # a scan interrupted this many times is failed, not retried
    heartbeat_s: float = 5.0
    poll_s: float = 0.5
    #: uploads are probed in a child process under these limits ("process"), never decoded in the API process;
    #: "inline" probes in a thread of the API process (tests with trusted files only)
    probe_mode: str = "process"
    max_probes: int = 2  # probes running at once; further uploads wait their turn
    probe_limits: ProbeLimits = field(default_factory=ProbeLimits)

    @property
    def auth_required(self) -> bool:
        """Tokens, once configured, are always checked; without them only loopback may run open."""
        return bool(self.tokens)

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'unmask.db'}"

    def validate(self) -> ServiceSettings:
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port must be 0..65535 (0: any free port), got {self.port}")
        if not 1 <= self.workers <= 64:
            raise ConfigError(f"workers must be 1..64, got {self.workers}")
        if self.max_upload_bytes < 1024:
            raise ConfigError("the upload limit must be at least 1 KB")
        if self.worker_mode not in ("process", "thread"):
            raise ConfigError(f"worker mode must be 'process' or 'thread', got {self.worker_mode!r}")
        if self.probe_mode not in ("process", "inline"):
            raise ConfigError(f"probe mode must be 'process' or 'inline', got {self.probe_mode!r}")
        if self.max_probes < 1:
            raise ConfigError(f"max_probes must be at least 1, got {self.max_probes}")
        self.probe_limits.validate()
        if self.max_attempts < 1 or self.max_queued < 1:
            raise ConfigError("max_attempts and max_queued must be at least 1")
        short = [t for t in self.tokens if len(t) < MIN_TOKEN_CHARS]
        if short:
            raise ConfigError(f"API tokens must be at least {MIN_TOKEN_CHARS} characters ({len(short)} too short)")
        if not is_loopback(self.host) and not self.tokens and not self.insecure_no_auth:
            raise ConfigError(f"refusing to serve on {self.host} without API tokens: set "
                              "UNMASK_API_TOKENS=token1,token2 "
                              "(or pass --insecure-no-auth to serve anyone who can reach it)")
        for d in self.allowed_dirs:
            if not d.is_dir():
                raise ConfigError(f"--allow-dir {d}: not a directory")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kwargs: object) -> ServiceSettings:
        """Settings from keyword arguments (flags) plus ``UNMASK_API_TOKENS`` / ``UNMASK_DATABASE_URL`` /
        ``UNMASK_DATA_DIR``."""
        env = dict(os.environ) if env is None else dict(env)
        tokens = tuple(t.strip() for t in env.get("UNMASK_API_TOKENS", "").split(",") if t.strip())
        values: dict[str, object] = {"tokens": tokens, "database_url": env.get("UNMASK_DATABASE_URL") or None,
                                     "data_dir": default_data_dir(env)}
        values.update({k: v for k, v in kwargs.items() if v is not None})
        if "allowed_dirs" in values:
            values["allowed_dirs"] = tuple(Path(str(p)).expanduser().resolve() for p in values["allowed_dirs"])  # type: ignore[attr-defined]
        values["data_dir"] = Path(str(values["data_dir"])).expanduser()
        return cls(**values).validate()  # type: ignore[arg-type]
