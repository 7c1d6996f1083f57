"""Where unmask keeps its data: ``UNMASK_DATA_DIR``, else the user's data directory (platformdirs)."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

DB_FILE = "unmask.db"


def data_dir(env: dict[str, str] | None = None) -> Path:
    """The data directory (created on first use): ``UNMASK_DATA_DIR`` or e.g. ``~/.local/share/unmask``."""
    env = dict(os.environ) if env is None else env
    raw = env.get("UNMASK_DATA_DIR") or user_data_dir("unmask", appauthor=False)
    return Path(raw).expanduser()


def default_url(env: dict[str, str] | None = None) -> str:
    """``UNMASK_DATABASE_URL`` if set, else SQLite in :func:`data_dir`."""
    env = dict(os.environ) if env is None else env
    url = env.get("UNMASK_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{data_dir(env) / DB_FILE}"
