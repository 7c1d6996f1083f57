"""Provenance: what the file says about itself (Content Credentials and container metadata).

:func:`read_provenance` reads both; :class:`Provenance` holds them with the
findings they give. A valid credential that declares AI generation gives its own
verdict (``declared_synthetic``, :mod:`unmask.rules`); a valid credential from a
capture device is shown as strong evidence but never lowers a detector's
``likely_fake``; an invalid or unreadable credential is a finding. Metadata is
context only and never moves the score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from unmask.provenance.credentials import (
    AI_SOURCE_TYPES,
    DEFAULT_LIMITS,
    Credential,
    CredentialLimits,
    read_credential_isolated,
)
from unmask.provenance.metadata import FileMetadata, read_metadata


@dataclass(frozen=True)
class Provenance:
    credential: Credential
    metadata: FileMetadata

    @property
    def findings(self) -> tuple[str, ...]:
        """Sentences a reader should see: credential problems first, then what a valid credential says."""
        c = self.credential
        out: list[str] = []
        if c.state == "invalid":
            what = "; ".join(c.problems[:3]) or f"validation state {c.validation_state}"
            out.append(f"The file's Content Credentials (signed by {c.signer_name}) do not validate ({what}): the "
                       "file was changed after signing, or the credential is forged or damaged, so what it claims "
                       "cannot be relied on.")
        elif c.state == "unreadable":
            out.append(f"The file carries Content Credentials that could not be read: {c.reason}.")
        elif c.state == "valid":
            if c.declares_ai:
                kinds = sorted({a.digital_source_type for a in c.actions if a.digital_source_type} & AI_SOURCE_TYPES)
                out.append(f"Valid Content Credentials signed by {c.signer_name} declare this file made with "
                           f"generative AI ({', '.join(kinds)}).")
            elif c.capture_unedited:
                out.append(f"Valid Content Credentials signed by {c.signer_name} say a capture device recorded this "
                           "file and that it was not edited since: strong evidence that the picture is a recording.")
            else:
                acts = ", ".join(dict.fromkeys(a.action for a in c.actions)) or "none"
                out.append(f"Valid Content Credentials signed by {c.signer_name} (actions: {acts}).")
            if not c.trusted:
                out.append("The signer's certificate is not on c2pa-python's trust list, so who signed cannot be "
                           "confirmed; the signature does show the file is unchanged since it was signed.")
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        m = self.metadata
        return {
            "credential": self.credential.to_dict(),
            "metadata": {"facts": [asdict(f) for f in m.facts], "rotation": m.rotation, "reencoded": m.reencoded,
                         "reencoding_signs": list(m.reencoding_signs), "note": m.note, "error": m.error},
            "findings": list(self.findings),
        }


def read_provenance(path: str | Path, rotation: int = 0, limits: CredentialLimits = DEFAULT_LIMITS) -> Provenance:
    """The file's Content Credentials (read in a limited child process) and its container tags. Never raises."""
    return Provenance(read_credential_isolated(path, limits), read_metadata(path, rotation))


__all__ = ["Credential", "CredentialLimits", "FileMetadata", "Provenance", "read_provenance"]
