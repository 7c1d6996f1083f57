"""Tables for docs/benchmark-notes.md from bench directories: the swap detector alone and fused, per degradation.

    python benchmarks/swap_tables.py bench bench-crf23 bench-crf30 bench-crf35 bench-360p bench-flip bench-phone

For each bench run (its ``scores.csv``): AUC of ``blend_cnn``'s own score for each family of fakes against
every real video, and against only the real videos whose source group the detector never trained on
(``benchmarks/swap_val_groups.txt``: the held-out comparison, the honest one); then the fused verdict's AUC,
real videos at ``likely_fake`` and fakes caught. Needs only the standard library and numpy/scikit-learn.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from unmask.metrics import roc_metrics

FAMILIES = {
    "face swaps": ("face_swap", "face_swap_dfdc_unspecified"),
    "lip sync": ("lip_sync",),
    "talking heads": ("audio_driven_talking_head", "audio_or_video_driven_talking_head"),
    "reenactment": ("reenactment",),
}


def _auc(reals: list[float], fakes: list[float]) -> str:
    if not reals or not fakes:
        return "–"
    m = roc_metrics([0] * len(reals) + [1] * len(fakes), reals + fakes)
    return "–" if m["auc"] is None else f"{m['auc']:.2f}"


def rows_of(bench: Path, kind: str) -> list[dict[str, str]]:
    with (bench / "scores.csv").open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if (r["kind"] == "image") == (kind == "image")]


def detector_table(benches: list[Path], held_groups: set[str], analyzer: str, kind: str) -> list[str]:
    col = f"{analyzer}_score"
    fams = list(FAMILIES) + ["all fakes"]
    out = [f"| run | reals | {' | '.join(fams)} |", "|---|---|" + "---|" * len(fams)]
    for b in benches:
        rows = [r for r in rows_of(b, kind) if r.get(col)]
        for which, keep in (("all real", lambda r: True), ("held-out real", lambda r: r["group"] in held_groups)):
            reals = [float(r[col]) for r in rows if r["label"] == "real" and keep(r)]
            cells = []
            for fam in fams:
                names = sum(FAMILIES.values(), ()) if fam == "all fakes" else FAMILIES[fam]
                fakes = [float(r[col]) for r in rows if r["label"] == "fake" and r["manipulation"] in names]
                cells.append(f"{_auc(reals, fakes)} ({len(fakes)})")
            out.append(f"| {b.name} | {which} ({len(reals)}) | " + " | ".join(cells) + " |")
    return out


def fused_table(benches: list[Path], held_groups: set[str], kind: str) -> list[str]:
    out = ["| run | AUC | AUC vs held-out reals | swaps AUC | real at likely_fake | fakes at likely_fake | not scored |",
           "|---|---|---|---|---|---|---|"]
    for b in benches:
        rows = rows_of(b, kind)
        scored = [r for r in rows if r["verdict"] in ("likely_real", "inconclusive", "likely_fake")]
        reals = [float(r["score"]) for r in scored if r["label"] == "real"]
        held = [float(r["score"]) for r in scored if r["label"] == "real" and r["group"] in held_groups]
        fakes = [float(r["score"]) for r in scored if r["label"] == "fake"]
        swaps = [float(r["score"]) for r in scored if r["label"] == "fake" and r["manipulation"] in FAMILIES["face swaps"]]
        fp = [r for r in scored if r["label"] == "real" and r["verdict"] == "likely_fake"]
        tp = sum(1 for r in scored if r["label"] == "fake" and r["verdict"] == "likely_fake")
        n_real = sum(1 for r in scored if r["label"] == "real")
        names = ", ".join(f"`{Path(r['path']).name}`" for r in fp)
        out.append(f"| {b.name} | {_auc(reals, fakes)} | {_auc(held, fakes)} | {_auc(reals, swaps)} | "
                   f"{len(fp)} of {n_real}{' (' + names + ')' if names else ''} | "
                   f"{tp} of {len(fakes)} | {len(rows) - len(scored)} |")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("benches", nargs="+", type=Path)
    p.add_argument("--held-out", type=Path, default=Path("benchmarks/swap_val_groups.txt"),
                   help="the detector's held-out real source groups (comma-separated file)")
    p.add_argument("--analyzer", default="blend_cnn")
    p.add_argument("--kind", choices=("video", "image"), default="video")
    a = p.parse_args(argv)
    held = {g.strip() for g in a.held_out.read_text().split(",") if g.strip()}
    print(f"### {a.analyzer} alone ({a.kind}s; AUC (n fakes))\n")
    print("\n".join(detector_table(a.benches, held, a.analyzer, a.kind)))
    print(f"\n### fused verdict ({a.kind}s)\n")
    print("\n".join(fused_table(a.benches, held, a.kind)))
    for b in a.benches:
        s = json.loads((b / "summary.json").read_text()) if (b / "summary.json").exists() else {}
        if s.get("real_time_factor"):
            print(f"\n{b.name}: real-time factor {s['real_time_factor']}, peak RSS {s.get('peak_rss_mb')} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
