"""Provenance: container tags, Content Credentials (fixtures and media signed here), the provenance rules."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import av
import numpy as np
import pytest

from unmask.fusion import Verdict
from unmask.provenance import Provenance, read_provenance
from unmask.provenance.credentials import (
    Action,
    Credential,
    CredentialLimits,
    Signer,
    credential_from_store,
    read_credential,
    read_credential_isolated,
)
from unmask.provenance.metadata import facts_from_tags, read_metadata
from unmask.rules import CAPTURE_RULE, DECLARED_RULE, apply_provenance

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "provenance"
needs_fixtures = pytest.mark.skipif(not (FIXTURES / "video1.mp4").exists(),
                                    reason="C2PA fixtures absent (../shared/data/provenance)")
IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def _mp4(path: Path, fmt_tags: dict[str, str] | None = None, stream_tags: dict[str, str] | None = None) -> Path:
    opts = {"movflags": "use_metadata_tags"} if fmt_tags else {}
    with av.open(str(path), "w", options=opts) as c:
        c.metadata.update(fmt_tags or {})
        s = c.add_stream("libx264", rate=10)
        s.width = s.height = 64
        s.pix_fmt = "yuv420p"
        s.metadata.update(stream_tags or {})
        for i in range(5):
            for p in s.encode(av.VideoFrame.from_ndarray(np.full((64, 64, 3), 40 * i, np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


# ---- container metadata -------------------------------------------------------------------------------------

def test_metadata_reads_device_tags_and_ffmpeg_as_reencoding(tmp_path: Path) -> None:
    f = _mp4(tmp_path / "phone.mov", {"com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 12",
                                      "com.apple.quicktime.software": "17.1", "creation_time": "2024-05-01T10:00:00Z"},
             {"handler_name": "Core Media Video"})
    m = read_metadata(f, rotation=90)
    assert m.error is None
    assert m.first("device make") == "Apple" and m.first("device model") == "iPhone 12"
    assert m.first("software") == "17.1" and m.first("creation time", ) is not None
    assert m.first("rotation") == "90°"
    assert m.reencoded and any("Lavf" in s for s in m.reencoding_signs)  # PyAV writes through FFmpeg's muxer
    handler = next(f for f in m.facts if f.what == "handler")
    assert handler.where == "video" and "Apple" in handler.meaning
    assert all(f.meaning for f in m.facts)


@pytest.mark.parametrize(("tags", "reencoded", "who"), [
    ({"encoder": "Lavf60.3.100"}, True, "FFmpeg"),
    ({"software": "HandBrake 1.7.0"}, True, "HandBrake"),
    ({"comment": "Recorded with OBS Studio"}, True, "screen recorder"),
    ({"encoder": "AVC Coding"}, False, ""),
    ({"com.apple.quicktime.model": "iPhone 15"}, False, ""),
], ids=["lavf", "handbrake", "obs", "camera-encoder", "device-only"])
def test_reencoding_signs(tags: dict[str, str], reencoded: bool, who: str) -> None:
    m = facts_from_tags([("container", tags)])
    assert m.reencoded is reencoded
    assert who in " ".join(m.reencoding_signs)


def test_no_metadata_proves_nothing() -> None:
    m = facts_from_tags([("container", {}), ("video", {"junk": "x"})])
    assert m.facts == () and not m.reencoded and "proves nothing" in m.note


def test_metadata_of_unreadable_file_is_an_error_not_a_raise(tmp_path: Path) -> None:
    f = tmp_path / "x.mp4"
    f.write_bytes(b"not a video at all" * 10)
    m = read_metadata(f)
    assert m.error and m.facts == ()


# ---- Content Credentials: the reference fixtures ------------------------------------------------------------

@needs_fixtures
@pytest.mark.parametrize(("name", "state", "sig", "hashes"), [
    ("video1.mp4", "valid", True, True),
    ("C.jpg", "valid", True, True),
    ("E-sig-CA.jpg", "invalid", False, True),
    ("XCA.jpg", "invalid", True, False),
    ("video1_no_manifest.mp4", "absent", None, None),
    ("c.mov", "absent", None, None),
], ids=["mp4-valid", "jpeg-valid", "jpeg-bad-signature", "jpeg-bad-hash", "mp4-no-manifest", "mov-no-manifest"])
def test_fixture_credentials(name: str, state: str, sig: bool | None, hashes: bool | None) -> None:
    c = read_credential(FIXTURES / name)
    assert c.state == state, c
    assert c.signature_valid is sig and c.hashes_valid is hashes
    if c.present:
        assert c.signer is not None and c.signer.common_name == "C2PA Signer"
        assert c.trusted is False  # the test certificate is on no trust list
        assert c.claim_generator and c.actions
    if state == "invalid":
        assert c.problems
        assert "do not validate" in Provenance(c, facts_from_tags([])).findings[0]


@needs_fixtures
def test_fixture_read_isolated_matches_in_process() -> None:
    a = read_credential_isolated(FIXTURES / "video1.mp4")
    assert a == read_credential(FIXTURES / "video1.mp4")
    assert a.ingredients and a.ingredients[0].title


# ---- Content Credentials: media signed in the test ---------------------------------------------------------

def _signer(tmp_path: Path):  # type: ignore[no-untyped-def]
    c2pa = pytest.importorskip("c2pa")
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "unmask tests")])

    def cert(subject: str, key, issuer, issuer_key, ca: bool):  # type: ignore[no-untyped-def]
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer).public_key(key.public_key())
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if ca:
            b = b.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        else:  # C2PA wants an end-entity signing key with an EKU, and key identifiers to build the chain
            b = (b.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
                 .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
                 .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
        return b.sign(issuer_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = cert("unmask test CA", ca_key, name("unmask test CA"), ca_key, True)
    ee = cert("unmask test signer", key, ca.subject, ca_key, False)
    chain = ee.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return c2pa, c2pa.Signer.from_info(c2pa.C2paSignerInfo(alg=b"es256", sign_cert=chain, private_key=pem, ta_url=None))


def _signed(tmp_path: Path, source_type: str, extra_actions: tuple[dict[str, object], ...] = ()) -> Path:
    c2pa, signer = _signer(tmp_path)
    src = _mp4(tmp_path / "in.mp4")
    manifest = {"claim_generator_info": [{"name": "unmask-test", "version": "1"}], "title": "clip.mp4",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [
                    {"action": "c2pa.created", "digitalSourceType": IPTC + source_type,
                     "softwareAgent": {"name": "TestGen", "version": "2"}}, *extra_actions]}}]}
    out = tmp_path / f"{source_type}.mp4"
    c2pa.Builder(json.dumps(manifest)).sign_file(str(src), str(out), signer)
    return out


def test_signed_ai_declaration(tmp_path: Path) -> None:
    c = read_credential(_signed(tmp_path, "trainedAlgorithmicMedia"))
    assert c.state == "valid" and c.declares_ai and not c.capture_unedited
    assert c.signer and c.signer.common_name == "unmask test signer" and c.signer.issuer == "unmask tests"
    assert c.claim_generator and c.claim_generator.startswith("unmask-test")
    assert c.actions[0].digital_source_type == "trainedAlgorithmicMedia" and c.actions[0].software_agent == "TestGen 2"


def test_signed_capture_credential(tmp_path: Path) -> None:
    c = read_credential(_signed(tmp_path, "digitalCapture"))
    assert c.valid and c.capture_unedited and not c.declares_ai
    edited = read_credential(_signed(tmp_path, "digitalCapture", ({"action": "c2pa.edited"},)))
    assert edited.valid and not edited.capture_unedited


def test_tampered_after_signing_is_invalid(tmp_path: Path) -> None:
    f = _signed(tmp_path, "trainedAlgorithmicMedia")
    data = bytearray(f.read_bytes())
    data[-40] ^= 0xFF  # a byte of the picture, after signing
    f.write_bytes(bytes(data))
    c = read_credential(f)
    assert c.state == "invalid" and c.hashes_valid is False
    assert apply_provenance(_verdict("likely_real"), c) == (_verdict("likely_real"), None)  # never declared


def test_signed_chain_is_read_leaf_first(tmp_path: Path) -> None:
    """c2pa-python names only the signer; the chain comes from the claim signature's x5chain header."""
    c = read_credential(_signed(tmp_path, "trainedAlgorithmicMedia"))
    assert [x.subject for x in c.chain] == ["O=unmask tests,CN=unmask test signer", "O=unmask tests,CN=unmask test CA"]
    assert [x.is_ca for x in c.chain] == [False, True] and c.chain[0].issuer == c.chain[1].subject
    assert all(len(x.sha256) == 64 and x.not_before < x.not_after for x in c.chain) and c.chain_error is None
    d = c.to_dict()
    assert Credential.from_dict(json.loads(json.dumps(d))) == c  # what a saved report reads back


@needs_fixtures
@pytest.mark.parametrize(("name", "n"), [("C.jpg", 2), ("video1.mp4", 2), ("adobe-20220124-E-clm-CAICAI.jpg", 3),
                                         ("E-sig-CA.jpg", 2)])
def test_fixture_chains(name: str, n: int) -> None:
    """Older manifests (before C2PA 1.3) carry the chain under the text key "x5chain"; an invalid signature
    still names the certificates it claims."""
    c = read_credential(FIXTURES / name)
    assert len(c.chain) == n and c.chain[0].subject.startswith("CN=C2PA Signer") and not c.chain[0].is_ca


def test_chain_reader_refuses_malformed_bytes() -> None:
    from unmask.provenance.cert_chain import ChainError, cbor_decode, signer_chain, x5chain

    for bad in (b"", b"\x00\x00\x00\x08jumb", b"\x00\x00\x01\x00jumb" + b"\x00" * 8, b"\x00\x00\x00\x10abcd" + b"x" * 8):
        with pytest.raises(ChainError):
            signer_chain(bad, "m")
    with pytest.raises(ChainError, match="too deep"):
        cbor_decode(b"\x81" * 100 + b"\x00")  # arrays nested 100 deep
    with pytest.raises(ChainError, match="cut off"):
        cbor_decode(b"\x5a\xff\xff\xff\xff")  # a 4 GB byte string that is not there
    with pytest.raises(ChainError, match="indefinite"):
        cbor_decode(b"\x9f\x00\xff")
    assert cbor_decode(b"\xd2\x82\x01\x21") == [1, -2]  # a tag is dropped; ints either sign
    with pytest.raises(ChainError, match="no x5chain"):
        x5chain(b"\x84\x40\xa0\xf6\x40")  # a COSE_Sign1 without certificates
    with pytest.raises(ChainError, match="cannot be parsed"):
        x5chain_cert = b"\x84\x40\xa1\x18\x21\x81\x43abc\xf6\x40"
        from unmask.provenance.cert_chain import describe

        describe(x5chain(x5chain_cert)[0])


# ---- bad manifests: a finding and a bounded cost, never a crash ---------------------------------------------

@needs_fixtures
def test_malformed_manifest_is_a_finding(tmp_path: Path) -> None:
    data = bytearray((FIXTURES / "C.jpg").read_bytes())
    at = data.find(b"jumb")
    assert at > 0
    data[at + 20: at + 2000] = bytes((i * 37) & 0xFF for i in range(1980))  # garble the manifest store
    f = tmp_path / "garbled.jpg"
    f.write_bytes(bytes(data))
    c = read_credential_isolated(f)
    assert c.state in ("unreadable", "invalid") and not c.valid
    p = Provenance(c, facts_from_tags([]))
    assert p.findings and apply_provenance(_verdict("likely_fake"), c)[1] is None


def test_reader_that_overruns_is_stopped(tmp_path: Path) -> None:
    f = _mp4(tmp_path / "a.mp4")
    c = read_credential_isolated(f, CredentialLimits(wall_s=0.001))
    assert c.state == "unreadable" and "stopped" in (c.reason or "")


@pytest.mark.parametrize("store", [
    {}, {"manifests": []}, {"manifests": {"a": 1}, "active_manifest": "a"},
    {"manifests": {"a": {"assertions": [{"label": "c2pa.actions", "data": {"actions": [5, {"action": ["x"]}]}}],
                         "signature_info": "odd", "ingredients": "x"}}, "active_manifest": "a",
     "validation_status": ["x", {"code": "claimSignature.mismatch"}]},
    {"manifests": {"a": {"assertions": [{"label": "c2pa.actions", "data": {"actions": [{"action": "c2pa.created"}] * 10_000}}]}},
     "active_manifest": "a"},
], ids=["empty", "list", "not-a-manifest", "wrong-types", "huge"])
def test_odd_manifest_store_shapes(store: dict[str, object]) -> None:
    c = credential_from_store(store)
    assert c.state in ("unreadable", "invalid", "valid")
    assert len(c.actions) <= 50
    json.dumps(c.to_dict())


# ---- the provenance rules -----------------------------------------------------------------------------------

def _verdict(label: str, score: float | None = 0.9) -> Verdict:
    return Verdict(label, score, 0.3, 0.8, None, (), (), {})  # type: ignore[arg-type]


def _cred(source: str, *more: str, state: str = "valid") -> Credential:
    acts = (Action("c2pa.created", source, "Gen 1", None), *(Action(a, None, None, None) for a in more))
    return Credential(state, validation_state="Valid", signature_valid=True, hashes_valid=True, trusted=False,  # type: ignore[arg-type]
                      signer=Signer("Acme Signer", "Acme CA", "1", "Es256", None), actions=acts)


@pytest.mark.parametrize("label", ["likely_real", "inconclusive", "likely_fake", "no_face", "cannot_assess"])
def test_declared_ai_gives_its_own_verdict(label: str) -> None:
    v, hit = apply_provenance(_verdict(label), _cred("trainedAlgorithmicMedia"))
    assert v.label == "declared_synthetic" and v.score == 0.9  # the cues' score is kept, never moved
    assert hit is not None and hit.rule == DECLARED_RULE and hit.from_label == label
    assert "Acme Signer" in hit.detail and "trainedAlgorithmicMedia" in hit.detail


def test_invalid_ai_declaration_is_not_a_verdict() -> None:
    v, hit = apply_provenance(_verdict("likely_real"), _cred("trainedAlgorithmicMedia", state="invalid"))
    assert v.label == "likely_real" and hit is None


def test_capture_credential_does_not_override_likely_fake() -> None:
    v, hit = apply_provenance(_verdict("likely_fake"), _cred("digitalCapture"))
    assert v.label == "likely_fake"
    assert hit is not None and hit.rule == CAPTURE_RULE and hit.to_label == "likely_fake"
    assert "does not override the detectors" in hit.detail
    assert apply_provenance(_verdict("likely_real"), _cred("digitalCapture")) == (_verdict("likely_real"), None)
    assert apply_provenance(_verdict("likely_fake"), _cred("digitalCapture", "c2pa.edited"))[1] is None


def test_read_provenance_never_raises(tmp_path: Path) -> None:
    f = tmp_path / "junk.bin"
    f.write_bytes(b"\x00" * 100)
    p = read_provenance(f)
    assert not p.credential.valid and p.metadata.error
    json.dumps(p.to_dict())
