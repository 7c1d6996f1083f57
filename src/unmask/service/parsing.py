"""Reading what a request asks for (scan settings, a claimed person) and mapping input errors to HTTP statuses."""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException

from unmask.errors import (
    ConfigError,
    InputError,
    MediaTooLarge,
    MissingInput,
    NotAFile,
    ProfileError,
    UnknownPerson,
    UnreadableInput,
)
from unmask.service.settings import ServiceSettings
from unmask.store import Store


def input_status(e: InputError) -> int:
    """415 for content that is not media we read; 422 for media we refuse (too large) or a path that is no file."""
    return 422 if isinstance(e, (MediaTooLarge, MissingInput, NotAFile, UnreadableInput)) else 415


def settings_from(raw: Any, base: ServiceSettings) -> dict[str, Any]:
    if raw in (None, "", {}):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise HTTPException(422, "settings must be a JSON object, e.g. {\"sampling.fps\": 4}") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise HTTPException(422, "settings must be a JSON object, e.g. {\"sampling.fps\": 4}")
    if any(isinstance(v, (dict, list)) for v in raw.values()):
        raise HTTPException(422, "settings use dotted keys with plain values, e.g. {\"sampling.fps\": 4}")
    try:
        base.scan_config.with_overrides(raw)
    except ConfigError as e:
        raise HTTPException(422, f"bad settings: {e}") from None
    return dict(raw)


def claim_from(st: Store, name: Any, version: Any) -> tuple[str, int] | None:
    """A request's claimed person, checked now: (stored name, profile version), or ``None`` without a claim.

    Names match as ``unmask scan --claims`` does (exactly, else the one enrolled name equal
    ignoring case); without a version the newest is fixed now, so the scan is checked
    against the profile that existed when it was queued.
    """
    from unmask.reference.people import People

    if name is None or (isinstance(name, str) and not name.strip()):
        if version not in (None, ""):
            raise HTTPException(422, "claims_version needs claims (the person's name)")
        return None
    if not isinstance(name, str):
        raise HTTPException(422, "claims must be a person's name")
    v: int | None = None
    if version not in (None, ""):
        try:
            v = int(version)
        except (TypeError, ValueError):
            raise HTTPException(422, f"claims_version must be a whole number, got {version!r}") from None
        if v < 1:
            raise HTTPException(422, "claims_version must be 1 or more")
    try:
        profile = People(st).get(name, v)
    except UnknownPerson as e:
        raise HTTPException(422, f"claims: {e} (GET /v1/people lists them; POST /v1/people enrols someone)") from None
    except ProfileError as e:
        raise HTTPException(422, f"claims: {e}") from None
    assert profile.version is not None
    return profile.name, profile.version
