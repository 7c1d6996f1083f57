"""Voice in reference mode on the development data: speaker-verification EER, a dub test, timing.

    .venv/bin/python benchmarks/voice_eval.py ../shared/data/manifest.csv --out bench-voice [--fit] [--timing]

Every real video with sound in the manifest is read with the tool's own code
(``media.audio.read_audio``, ``voice.segments.speech_segments``,
``voice.encoder.VoiceEncoder``); clips with less than 3 s of speech, or whose
sound is not speech, are listed and left out. People: the manifest notes'
``person:`` and ``benchmarks/reference_eval.PEOPLE`` (same-person pairs found
by looking); every other clip is its own person, except that the eleven GRID
samples are never paired with each other (their speakers are not stated).

Trials (the check's score is :func:`unmask.reference.voice.voice_similarity`):

* cross-clip: enrol from one clip, check every other clip (same person:
  another recording of them; different person: anyone else);
* same-clip halves: for clips with at least 6 s of speech, enrol from the
  first half of the speech and check the second (same recording, so easier).

``--fit`` writes ``src/unmask/models/voice.json`` (the calibration the check
uses). The voice-level dub count reads the different-person trials as dubs
(B's sound checked against A's profile is what a scan of A's video dubbed
with B's voice and claimed as A measures). ``--dub`` runs the real thing
through the whole scan: enrol Obama (``lia/obama.mov``) and AOC
(``hdtf/WDA_AlexandriaOcasioCortez_000.mp4``) with ``Enroller``, then scan
each of their held-out videos claimed as them, with its own sound and
with four other people's sound laid under it (``synth.write_dub``, written
to a temporary folder), and each with its own sound claimed as the other
person; it counts the verdict labels, with and without the voice rule.
``--dub-only`` runs just that.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reference_eval import PEOPLE, SAME_FOOTAGE, auc, eer  # noqa: E402

from unmask.media.audio import read_audio  # noqa: E402
from unmask.reference.voice import VoiceModel, speaker_groups, voice_similarity  # noqa: E402
from unmask.synth import write_dub  # noqa: E402
from unmask.voice.encoder import VoiceEncoder  # noqa: E402
from unmask.voice.segments import speech_segments  # noqa: E402

MIN_SPEECH_S = 3.0
HALVES_MIN_S = 6.0


def person_of(rel: str, notes: str) -> str:
    if rel in PEOPLE:
        return PEOPLE[rel]
    if "person:" in notes:
        p = notes.split("person:")[1].split(";")[0].strip()
        return "obama" if p == "Barack_Obama" else p
    return rel


def extract(manifest: Path, enc: VoiceEncoder) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    root = manifest.parent
    clips: dict[str, dict[str, Any]] = {}
    left_out: list[dict[str, Any]] = []
    for r in csv.DictReader(manifest.open()):
        if r["label"] != "real" or r["kind"] != "video":
            continue
        rel = r["path"]
        try:
            audio = read_audio(root / rel)
        except Exception as e:  # a benchmark lists what it could not read
            left_out.append({"path": rel, "why": f"unreadable sound: {e}"})
            continue
        if audio is None:
            continue
        cut = speech_segments(audio)
        if cut.sound.kind != "speech":
            left_out.append({"path": rel, "why": f"{cut.sound.kind}: {cut.sound.reason}"})
            continue
        if cut.speech_s < MIN_SPEECH_S or not cut.segments:
            left_out.append({"path": rel, "why": f"only {cut.speech_s:.1f} s of speech"})
            continue
        emb = enc.embed_many([s.samples for s in cut.segments])
        clips[rel] = {"person": person_of(rel, r["notes"]), "emb": emb, "speech_s": cut.speech_s,
                      "seg_s": [s.speech_s for s in cut.segments], "grid": "/grid/" in rel}
    return clips, left_out


def trials(clips: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    names = sorted(clips)
    for a in names:
        for b in names:
            if a == b or (clips[a]["grid"] and clips[b]["grid"] and clips[a]["person"] != clips[b]["person"]):
                continue
            if frozenset({a, b}) in SAME_FOOTAGE:
                continue
            same = clips[a]["person"] == clips[b]["person"]
            out.append({"enrol": a, "check": b, "same": same, "kind": "cross-clip",
                        "score": voice_similarity(clips[a]["emb"], clips[b]["emb"])})
    for a in names:
        e = clips[a]["emb"]
        if clips[a]["speech_s"] < HALVES_MIN_S or len(e) < 2:
            continue
        h = len(e) // 2
        out.append({"enrol": a + "#first-half", "check": a + "#second-half", "same": True, "kind": "same-clip halves",
                    "score": voice_similarity(e[:h], e[h:])})
    return out


def summary(ts: list[dict[str, Any]], kind: str | None = None) -> dict[str, Any]:
    sel = [t for t in ts if kind is None or t["kind"] == kind or not t["same"]]
    pos = [t["score"] for t in sel if t["same"]]
    neg = [t["score"] for t in sel if not t["same"]]
    if not pos or not neg:
        return {"same": len(pos), "different": len(neg)}
    e, thr = eer(pos, neg)
    return {"same": len(pos), "different": len(neg), "eer": round(e, 4), "eer_threshold": round(thr, 4),
            "auc": round(auc(pos, neg) or 0, 4), "same_range": [round(min(pos), 3), round(max(pos), 3)],
            "different_p95": round(float(np.percentile(neg, 95)), 3), "different_max": round(max(neg), 3)}


def fit(ts: list[dict[str, Any]], seg_pairs: dict[str, list[float]], out: Path) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    x = np.array([[t["score"]] for t in ts])
    y = np.array([1 if t["same"] else 0 for t in ts])
    lr = LogisticRegression(C=10.0, class_weight="balanced").fit(x, y)
    neg = [t["score"] for t in ts if not t["same"]]
    e, thr = eer([t["score"] for t in ts if t["same"]], neg)
    d = {
        "name": "voice",
        "logistic": {"coef": round(float(lr.coef_[0, 0]), 4), "intercept": round(float(lr.intercept_[0]), 4)},
        "others_p95": round(float(np.percentile(neg, 95)), 4),
        # the cut for "one speaker": midway between one clip's segment pairs (p5) and different people's (p95)
        "same_speaker_segment": round(float(np.percentile(seg_pairs["same"], 5) + np.percentile(seg_pairs["different"], 95)) / 2, 4),
        "fitted_on": {"trials_same": int(y.sum()), "trials_different": int((1 - y).sum()), "eer": round(e, 4),
                      "eer_threshold": round(thr, 4),
                      "segment_pairs": {k: len(v) for k, v in seg_pairs.items()},
                      "command": "benchmarks/voice_eval.py ../shared/data/manifest.csv --out bench-voice --fit"},
    }
    out.write_text(json.dumps(d, indent=2) + "\n")
    return d


def segment_pairs(clips: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    """Cosine of segment pairs within one clip (same speaker) and across people (different)."""
    same, diff = [], []
    names = sorted(clips)
    for a in names:
        e = clips[a]["emb"]
        s = e @ e.T
        same += list(s[np.triu_indices(len(e), 1)])
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if clips[a]["person"] != clips[b]["person"] and not (clips[a]["grid"] and clips[b]["grid"]):
                diff += list((clips[a]["emb"] @ clips[b]["emb"].T).ravel())
    return {"same": [float(v) for v in same], "different": [float(v) for v in diff]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--timing", action="store_true")
    ap.add_argument("--dub", action="store_true", help="the dub test through enrolment and whole scans (minutes)")
    ap.add_argument("--dub-only", action="store_true", help="only the dub test's scans (results-dub.json)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dub_only:
        dub = dub_scans(args.manifest.parent)
        (args.out / "results-dub.json").write_text(json.dumps(dub, indent=1, default=float))
        print("dub_scans", json.dumps({k: v for k, v in dub.items() if k != "rows"}, default=float))
        return
    enc = VoiceEncoder()
    t0 = time.perf_counter()
    clips, left_out = extract(args.manifest, enc)
    t_extract = time.perf_counter() - t0
    ts = trials(clips)
    sp = segment_pairs(clips)
    res: dict[str, Any] = {
        "clips": {k: {"person": v["person"], "speech_s": round(v["speech_s"], 1), "segments": len(v["emb"])}
                  for k, v in clips.items()},
        "left_out": left_out, "extract_s": round(t_extract, 1),
        "all": summary(ts), "cross_clip": summary(ts, "cross-clip"), "halves": summary(ts, "same-clip halves"),
        "segment_pairs": {k: {"n": len(v), "p5": round(float(np.percentile(v, 5)), 3),
                              "p50": round(float(np.percentile(v, 50)), 3),
                              "p95": round(float(np.percentile(v, 95)), 3)} for k, v in sp.items()},
        "same_person_trials": [t for t in ts if t["same"]],
    }
    if args.fit:
        res["fit"] = fit(ts, sp, Path(__file__).resolve().parent.parent / "src/unmask/models/voice.json")
    model = VoiceModel.load()
    th = model.threshold
    neg_sorted = sorted((t for t in ts if not t["same"]), key=lambda t: -t["score"])
    res["misses"] = {"same_below_threshold": [t for t in ts if t["same"] and t["score"] < th],
                     "different_above_threshold": [t for t in neg_sorted if t["score"] >= th][:20],
                     "threshold": round(th, 4)}
    # several speakers: every same-person clip alone (should be one group) and every pair of different people
    # spliced (A's segments then B's: should be two); both need two segments (a lone segment is never a voice)
    names = sorted(clips)
    one = [speaker_groups(clips[a]["emb"], model) for a in names if len(clips[a]["emb"]) >= 2]
    two = []
    multi = [a for a in names if len(clips[a]["emb"]) >= 2]
    for i, a in enumerate(multi):
        for b in multi[i + 1:]:
            if clips[a]["person"] != clips[b]["person"] and not (clips[a]["grid"] and clips[b]["grid"]):
                two.append(speaker_groups(np.concatenate([clips[a]["emb"], clips[b]["emb"]]), model))
    res["several_speakers"] = {"single_speaker_clips": len(one), "called_several": int(sum(g > 1 for g in one)),
                               "spliced_pairs": len(two), "called_one": int(sum(g == 1 for g in two))}
    # dub test at the voice level: enrol on A, check A's sound (own) against B's sound (dub), same check lengths
    own = [t["score"] for t in ts if t["same"]]
    dubs = [t["score"] for t in ts if not t["same"]]
    res["dub"] = {"own_voice_called_unlike": int(sum(s < th for s in own)), "own": len(own),
                  "dub_called_like": int(sum(s >= th for s in dubs)), "dubs": len(dubs)}
    if args.timing:
        res["timing"] = timing(args.manifest.parent, enc)
    if args.dub:
        res["dub_scans"] = dub_scans(args.manifest.parent)
    (args.out / "results.json").write_text(json.dumps(res, indent=1, default=float))
    for k in ("all", "cross_clip", "halves", "segment_pairs", "several_speakers", "dub", "timing", "fit", "dub_scans"):
        if k in res:
            print(k, json.dumps(res[k], default=float))
    print("left out", len(left_out), "clips", len(clips), "misses", len(res["misses"]["same_below_threshold"]),
          len(res["misses"]["different_above_threshold"]))


DUB_PEOPLE = {
    "Barack Obama": ("media/real/lia/obama.mov", ["media/real/edtalk/uncrop_Obama.mp4", "media/real/ghost/obama_short.mp4"]),
    "Alexandria Ocasio-Cortez": ("media/real/hdtf/WDA_AlexandriaOcasioCortez_000.mp4",
                                 ["media/real/video_retalking/3.mp4", "media/real/hdtf/gt.mp4"]),
}
DUB_VOICES = ["media/real/deep_avsr/00016.mp4", "media/real/hdtf/WDA_KatieHill_000.mp4",
              "media/real/hdtf/WDA_EdMarkey0_000.mp4", "media/real/edtalk/pose_source2.mp4"]


def dub_scans(root: Path) -> dict[str, Any]:
    """Enrol two people, scan their held-out videos with their own and with dubbed sound (see module docstring)."""
    import tempfile

    from unmask.pipeline import Scanner
    from unmask.reference.enroll import Enroller

    enroller = Enroller()
    profiles = {name: enroller.enroll(name, [root / src]).profile for name, (src, _) in DUB_PEOPLE.items()}
    rows: list[dict[str, Any]] = []

    def one(scanner: Scanner, path: Path, **what: Any) -> None:
        t0 = time.perf_counter()
        data = scanner.scan(path).data
        ref, verdict = data["reference"], data["verdict"]
        voice_rule = next((r for r in verdict["rules"] if r["rule"] == "voice_mismatch"), None)
        rows.append({**what, "conclusion": ref["conclusion"], "voice": ref["voice"], "identity": ref["identity"]["score"],
                     "label": verdict["label"], "fusion_label": verdict["fusion_label"],
                     "rules": [r["rule"] for r in verdict["rules"]],
                     # the label the other rules left, which the voice rule (run after them) started from
                     "label_without_voice_rule": voice_rule["from_label"] if voice_rule else verdict["label"],
                     "seconds": round(time.perf_counter() - t0, 1),
                     "reference_s": data["timings"].get("analyzer_reference_s")})
        print(json.dumps(rows[-1]), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        for name, (_, held) in DUB_PEOPLE.items():
            scanner = Scanner(claims=profiles[name])
            other = next(n for n in profiles if n != name)
            for rel in held:
                one(scanner, root / rel, claimed=name, video=rel, sound="own")
                for v in DUB_VOICES:
                    audio = read_audio(root / v)
                    assert audio is not None
                    dub = write_dub(root / rel, audio.samples, Path(tmp) / f"{Path(rel).stem}__{Path(v).stem}.mp4")
                    one(scanner, dub, claimed=name, video=rel, sound=v)
                one(Scanner(claims=profiles[other]), root / rel, claimed=other, video=rel, sound="own")
    own = [r for r in rows if r["sound"] == "own" and r["video"] in DUB_PEOPLE[r["claimed"]][1]]
    dubs = [r for r in rows if r["sound"] != "own"]
    wrong = [r for r in rows if r["sound"] == "own" and r not in own]
    return {
        "rows": rows,
        "own_voice_matched": sum(bool(r["voice"]["checked"] and r["voice"]["score"] >= 0.5) for r in own),
        "own": len(own),
        "dubs_voice_mismatch": sum(r["conclusion"] == "voice_mismatch" for r in dubs),
        "dubs_checked": sum(bool(r["voice"]["checked"]) for r in dubs), "dubs": len(dubs),
        "claimed_as_other_not_this_person": sum(r["conclusion"] == "not_this_person" for r in wrong),
        "claimed_as_other_voice_unlike": sum(bool(r["voice"]["checked"] and r["voice"]["score"] < 0.5) for r in wrong),
        "claimed_as_other": len(wrong),
        # the voice rule: dubs raised from likely_real, and scans of a person's own sound it fired on (should be 0)
        "dubs_labels": _count(r["label"] for r in dubs),
        "dubs_labels_without_voice_rule": _count(r["label_without_voice_rule"] for r in dubs),
        "dubs_voice_rule_fired": sum("voice_mismatch" in r["rules"] for r in dubs),
        "dubs_raised_by_voice_rule": sum(r["label"] != r["label_without_voice_rule"] for r in dubs),
        "own_voice_rule_fired": sum("voice_mismatch" in r["rules"] for r in own + wrong),
        "own_labels": _count(r["label"] for r in own + wrong),
    }


def _count(labels: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for label in labels:
        out[label] = out.get(label, 0) + 1
    return dict(sorted(out.items()))


def timing(root: Path, enc: VoiceEncoder) -> dict[str, Any]:
    """Enrolment and check of a 60 s clip with speech (EDTalk pose_source2), cold encoder load included."""
    from unmask.reference.voice import build_voice, check_voice

    p = root / "media/real/edtalk/pose_source2.mp4"
    fresh = VoiceEncoder()
    t0 = time.perf_counter()
    fresh.load()
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    audio = read_audio(p)
    assert audio is not None
    t_read = time.perf_counter() - t0
    t0 = time.perf_counter()
    vp = build_voice([audio], fresh).profile
    assert vp is not None
    t_enrol = time.perf_counter() - t0
    t0 = time.perf_counter()
    check_voice(audio, vp, fresh, VoiceModel.load())
    t_check = time.perf_counter() - t0
    return {"file": str(p.name), "audio_s": round(audio.duration_s, 1), "speech_s": round(vp.speech_s, 1),
            "load_s": round(t_load, 2), "read_s": round(t_read, 2), "enrol_s": round(t_enrol, 2),
            "check_s": round(t_check, 2)}


if __name__ == "__main__":
    main()
