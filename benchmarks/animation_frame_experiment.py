"""Issue 17, part 3 experiment: frozen per-frame CNN features + a temporal head, on animation pseudo-fakes.

The pairs are part 2's (``benchmarks/animation_experiment.py``: same sampler, seeds, damage draws, beauty reals,
mediapipe re-meshing of the damaged views, bit for bit), plus a fourth window per pair: the *re-synthesised* fake
(:func:`unmask_training.learned.resynthesis.resynthesize`: the animated face redrawn with fresh per-frame blur/sharpening,
band-limited noise, JPEG, shading and colour flicker, then the pair's damage draw), so "frozen noise" is not the only
fake cue. Every window keeps its part-2 cues (21), its re-meshed landmarks and the pooled MobileNetV2 features of each
view (:class:`unmask_training.learned.frame_features.FrameEncoder`, the swap detector's 160 px crop); the temporal features are
:func:`unmask_training.learned.feature_dynamics.window_dynamics` (logistic heads) or per-view PCA codes (a tiny 1-D conv,
:class:`TinyConvHead`). Stages (cached under ``--out``, default
``out/animation-frames``, ignored by git; times on 2 busy cores, the two ``pairs`` runs side by side)::

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py pairs --split train   # ~26 min
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py pairs --split val     # ~16 min
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py videos --set real     # ~10 min
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py fit                   # ~2 min
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py videos --set fake     # a LOOK input
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py look --candidate NAME  # a LOOK
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/animation_frame_experiment.py time

``fit`` touches no fake video: it prints every candidate's held-out pseudo AUCs and held-out real false positives.
``look`` scores the dev fakes: log every run in docs/animation-pseudofakes.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from animation_experiment import (  # noqa: E402
    FAKE,
    GENERATORS,
    MANIFEST,
    REAL,
    WINDOW,
    auc,
    beauty,
    damage,
    draw_damage,
    generator_of,
    remesh,
    subset,
    val_groups,
)

from unmask.errors import UnmaskError  # noqa: E402
from unmask.faces.mesh import FaceMesher  # noqa: E402
from unmask.learned.animation_cues import BadCueInput, window_cues, windows  # noqa: E402
from unmask_training.learned.animate import AnimationPairSampler  # noqa: E402
from unmask_training.learned.dataset import FaceSet  # noqa: E402
from unmask_training.learned.feature_dynamics import (  # noqa: E402
    BadDynamicsInput,
    dynamics_names,
    fit_basis,
    window_dynamics,
)
from unmask_training.learned.frame_features import EncoderConfig, FrameEncoder  # noqa: E402
from unmask_training.learned.resynthesis import resynthesize  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STRIDE = 4
KINDS = {0: "real", 1: "fake", 2: "beauty", 3: "resynth"}
PCA_K = 16
#: candidates: (feature families, fake kinds trained on)
CANDIDATES = {
    "cues": (("cues",), (1,)),
    "cues+resynth": (("cues",), (1, 3)),
    "dyn": (("dyn",), (1,)),
    "dyn+resynth": (("dyn",), (1, 3)),
    "dyn+cues": (("dyn", "cues"), (1,)),
    "dyn+cues+resynth": (("dyn", "cues"), (1, 3)),
    "conv": (("conv",), (1,)),
    "conv+resynth": (("conv",), (1, 3)),
}


# --- stage: pairs ----------------------------------------------------------------------------------------

def cmd_pairs(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    faces = FaceSet.load(REAL)
    held = np.isin(faces.groups.astype(str), list(val_groups()))
    train = args.split == "train"
    n = args.train_pairs if train else args.val_pairs
    seed = args.seed if train else args.seed + 1  # part 2's seeds
    sampler = AnimationPairSampler(subset(faces, np.flatnonzero(~held if train else held)), WINDOW)
    mesher = FaceMesher()
    enc = FrameEncoder(EncoderConfig())
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {"feats": [], "lm": [], "cues": [], "pair": [], "kind": []}
    t0, skipped = time.time(), 0
    path = out / f"pairs_{args.split}.npz"

    def save() -> None:
        np.savez(path, feats=np.array(rows["feats"], np.float32), lm=np.array(rows["lm"], np.float32),
                 cues=np.array(rows["cues"]), pair=np.array(rows["pair"]), kind=np.array(rows["kind"]))

    for i in range(n):
        # exactly part 2's draws, in part 2's order, from the shared generator
        p = sampler.sample(rng)
        d = draw_damage(rng)
        real = np.stack([damage(f, d, rng) for f in p.real])
        fake = np.stack([damage(f, d, rng) for f in p.fake.frames])
        strength, dd, sc = float(rng.uniform(0.5, 1.0)), int(rng.choice([5, 7, 9])), float(rng.uniform(25, 75))
        d2 = draw_damage(rng)
        pretty = np.stack([damage(beauty(f, lm, rng, strength, dd, sc), d2, rng)
                           for f, lm in zip(p.real, p.real_landmarks)])
        # the re-synthesis variant: its own generator per pair, so part 2's stream is untouched
        r2 = np.random.default_rng([seed, i])
        resyn = np.stack([damage(f, d, r2) for f in resynthesize(p.fake.frames, p.fake.landmarks, r2)])
        items = [(real, p.real_landmarks, 0), (fake, p.fake.landmarks, 1), (pretty, p.real_landmarks, 2),
                 (resyn, p.fake.landmarks, 3)]
        done = []
        for frames, hint, k in items:
            lm = remesh(mesher, frames, hint)
            try:
                if lm is None:
                    raise BadCueInput("a view without a mesh")
                cues = window_cues(frames, lm).vector()
            except BadCueInput:
                if k < 3:  # part 2 drops the pair; a lost re-synthesised window only drops itself
                    done = None
                    break
                continue
            done.append((frames, lm, cues, k))
        if done is None:
            skipped += 1
            continue
        feats = enc.encode(np.concatenate([x[0] for x in done]))
        for j, (_, lm, cues, k) in enumerate(done):
            rows["feats"].append(feats[j * WINDOW:(j + 1) * WINDOW])
            rows["lm"].append(lm)
            rows["cues"].append(cues)
            rows["pair"].append(i)
            rows["kind"].append(k)
        if (i + 1) % 10 == 0:  # a partial cache is usable: the pairs are a prefix of part 2's
            print(f"  {args.split}: {i + 1}/{n} pairs, {time.time() - t0:.0f} s, {skipped} skipped", flush=True)
            save()
    save()
    print(f"{args.split}: {len(rows['kind'])} windows from {n - skipped} pairs in {time.time() - t0:.0f} s -> {path}")
    return 0


# --- stage: videos ---------------------------------------------------------------------------------------

def cmd_videos(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    faces = FaceSet.load(REAL if args.set == "real" else FAKE)
    t0 = time.time()
    enc = FrameEncoder(EncoderConfig())
    feats = enc.encode(faces.images)
    print(f"  {args.set}: {len(feats)} views encoded in {time.time() - t0:.0f} s", flush=True)
    src = faces.sources.astype(str)
    idx_rows, cues, names, groups = [], [], [], []
    for s in dict.fromkeys(src):
        idx = np.flatnonzero(src == s)
        for a, b in windows(len(idx), WINDOW, STRIDE):
            j = idx[a:b]
            try:
                c = window_cues(faces.images[j], faces.landmarks[j]).vector()
            except BadCueInput as e:
                print(f"  skip {s}[{a}:{b}]: {e}", file=sys.stderr)
                continue
            idx_rows.append(j)
            cues.append(c)
            names.append(s)
            groups.append(str(faces.groups[j[0]]))
    np.savez(out / f"videos_{args.set}.npz", view_feats=feats, landmarks=np.asarray(faces.landmarks, np.float32),
             window_idx=np.array(idx_rows), cues=np.array(cues), source=np.array(names), group=np.array(groups))
    print(f"{args.set}: {len(names)} windows in {time.time() - t0:.0f} s")
    return 0


# --- features and heads ----------------------------------------------------------------------------------

def load_pairs(out: Path, split: str) -> dict[str, np.ndarray]:
    return dict(np.load(out / f"pairs_{split}.npz"))


def dyn_matrix(feats: np.ndarray, lms: np.ndarray, basis) -> np.ndarray:  # noqa: ANN001
    widths = EncoderConfig().widths
    rows = []
    for f, lm in zip(feats, lms):
        try:
            rows.append(window_dynamics(f, lm, widths, basis))
        except BadDynamicsInput:
            rows.append(np.full(len(dynamics_names(widths, basis)), np.nan))
    return np.array(rows)


class Candidate:
    """One head: standardised logistic regression on the chosen feature families (or the tiny 1-D conv)."""

    def __init__(self, name: str, out: Path, c: float = 1.0) -> None:
        self.name = name
        self.families, self.fake_kinds = CANDIDATES[name]
        tr = load_pairs(out, "train")
        widths = EncoderConfig().widths
        hi0 = sum(widths[:-1])
        keep = np.isin(tr["kind"], (0, 1))  # the bases see real and plain fake views of training pairs only
        views = tr["feats"][keep].reshape(-1, tr["feats"].shape[-1])
        self.basis = fit_basis(views, hi0, sum(widths), PCA_K)
        self.seq_bases = [fit_basis(views, 0, widths[0], 8), fit_basis(views, widths[0], hi0, 8), self.basis]
        X = self.matrix(tr["feats"], tr["lm"], tr["cues"])
        k = tr["kind"]
        use = np.isin(k, (0, 2) + self.fake_kinds) & np.all(np.isfinite(X), axis=1)
        if "conv" in self.families:
            self.head = TinyConvHead.fit(X[use], np.isin(k[use], self.fake_kinds).astype(np.float32))
            self.train_auc = auc(*(lambda s: (s[np.isin(k[use], self.fake_kinds)], s[k[use] == 0]))(self.score(X[use])))
            return
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        self.head = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        self.head.fit(X[use], np.isin(k[use], self.fake_kinds).astype(int))
        self.train_auc = auc(*(lambda s: (s[np.isin(k[use], self.fake_kinds)], s[k[use] == 0]))(
            self.head.predict_proba(X[use])[:, 1]))

    def matrix(self, feats: np.ndarray, lms: np.ndarray, cues: np.ndarray) -> np.ndarray:
        parts = []
        if "dyn" in self.families:
            parts.append(dyn_matrix(feats, lms, self.basis))
        if "cues" in self.families:
            parts.append(np.asarray(cues, np.float64))
        if "conv" in self.families:  # per-frame PCA codes of the three taps (flattened) + the landmark motion
            seq = np.stack([np.concatenate([b.project(f) for b in self.seq_bases], axis=1) for f in feats])
            motion = dyn_matrix(feats, lms, None)[:, -2:]
            parts.append(np.concatenate([seq.reshape(len(seq), -1), motion], axis=1))
        return np.concatenate(parts, axis=1)

    def score(self, X: np.ndarray) -> np.ndarray:
        s = np.full(len(X), np.nan)
        ok = np.all(np.isfinite(X), axis=1)
        if "conv" in self.families:
            s[ok] = self.head.predict(X[ok])
        else:
            s[ok] = self.head.predict_proba(X[ok])[:, 1]
        return s


class TinyConvHead:
    """A few thousand parameters over the window's frame-to-frame code differences: two 1-D convolutions,
    mean pooling, then a linear logit with the (standardised) landmark motion."""

    def __init__(self, net, mu: np.ndarray, sd: np.ndarray, t: int) -> None:  # noqa: ANN001
        self.net, self.mu, self.sd, self.t = net, mu, sd, t

    @staticmethod
    def _split(X: np.ndarray, t: int):  # noqa: ANN205
        seq = X[:, :-2].reshape(len(X), t, -1)
        return seq, X[:, -2:]

    @classmethod
    def fit(cls, X: np.ndarray, y: np.ndarray, epochs: int = 400, seed: int = 0) -> TinyConvHead:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        seq, mot = cls._split(X, WINDOW)
        mu, sd = mot.mean(axis=0), mot.std(axis=0) + 1e-6
        d = seq.shape[2]

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.c1 = nn.Conv1d(2 * d, 16, 3, padding=1)
                self.c2 = nn.Conv1d(16, 16, 3, padding=1)
                self.out = nn.Linear(16 + 2, 1)

            def forward(self, s, m):  # noqa: ANN001, ANN202
                dz = s[:, 1:] - s[:, :-1]
                x = torch.cat([dz, dz.abs()], dim=2).transpose(1, 2)
                x = torch.relu(self.c2(torch.relu(self.c1(x)))).mean(dim=2)
                return self.out(torch.cat([x, m], dim=1)).squeeze(1)

        net = Net()
        head = cls(net, mu, sd, WINDOW)
        s_t, m_t = head._tensors(X)
        y_t = torch.from_numpy(y)
        opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-2)
        for _ in range(epochs):
            opt.zero_grad()
            loss = nn.functional.binary_cross_entropy_with_logits(net(s_t, m_t), y_t)
            loss.backward()
            opt.step()
        net.eval()
        return head

    def _tensors(self, X: np.ndarray):  # noqa: ANN202
        import torch

        seq, mot = self._split(X, self.t)
        return (torch.from_numpy(seq.astype(np.float32)),
                torch.from_numpy(((mot - self.mu) / self.sd).astype(np.float32)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return torch.sigmoid(self.net(*self._tensors(X))).numpy().astype(np.float64)


def video_scores(cand: Candidate, v: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, float]]:
    """Window scores and per-video means (NaN windows ignored)."""
    idx = v["window_idx"]
    X = cand.matrix(v["view_feats"][idx], v["landmarks"][idx][..., :2], v["cues"])
    s = cand.score(X)
    per = {}
    for name in np.unique(v["source"]):
        x = s[(v["source"] == name) & np.isfinite(s)]
        if len(x):
            per[str(name)] = float(x.mean())
    return s, per


def cmd_fit(args: argparse.Namespace) -> int:
    out = Path(args.out)
    va = load_pairs(out, "val")
    rv = dict(np.load(out / "videos_real.npz"))
    vg = val_groups()
    report = {}
    for name in CANDIDATES:
        cand = Candidate(name, out, args.c)
        s = cand.score(cand.matrix(va["feats"], va["lm"], va["cues"]))
        k = va["kind"]
        _, per = video_scores(cand, rv)
        held = {str(n) for n, g in zip(rv["source"], rv["group"]) if g in vg}
        rh = np.array([per[n] for n in per if n in held])
        thr98 = float(np.percentile(rh, 98))
        half = float(np.nanmedian(s[k == 1]))
        report[name] = {
            "train_auc": round(cand.train_auc, 3),
            "pseudo_auc": round(auc(s[k == 1], s[k == 0]), 3),
            "resynth_auc": round(auc(s[k == 3], s[k == 0]), 3),
            "pseudo_vs_beauty": round(auc(s[k == 1], s[k == 2]), 3),
            "resynth_vs_beauty": round(auc(s[k == 3], s[k == 2]), 3),
            "heldout_real_videos_above_half_pseudo": round(float(np.mean(rh > half)), 3),
            "thr98_heldout_real_videos": round(thr98, 4),
            "pseudo_windows_above_thr98": round(float(np.nanmean(s[k == 1] > thr98)), 3),
            "resynth_windows_above_thr98": round(float(np.nanmean(s[k == 3] > thr98)), 3),
            "n_val": {KINDS[i]: int(np.sum(k == i)) for i in KINDS}, "n_heldout_real_videos": len(rh),
        }
    print(json.dumps(report, indent=1))
    (out / "fit_report.json").write_text(json.dumps(report, indent=1))
    return 0


def cmd_look(args: argparse.Namespace) -> int:
    out = Path(args.out)
    cand = Candidate(args.candidate, out, args.c)
    rv = dict(np.load(out / "videos_real.npz"))
    fv = dict(np.load(out / "videos_fake.npz"))
    man = {r["path"]: r for r in csv.DictReader(MANIFEST.open(newline=""))}
    vg = val_groups()
    _, real = video_scores(cand, rv)
    _, fake = video_scores(cand, fv)
    held = {str(n) for n, g in zip(rv["source"], rv["group"]) if g in vg}
    rh = np.array([real[v] for v in real if v in held])
    rt = np.array([real[v] for v in real if v not in held])
    ra = np.array(list(real.values()))
    thr = float(np.percentile(rh, 98))
    kinds = {v: generator_of(man[v]["origin"], man[v]["manipulation"]) for v in fake}
    th = [v for v in fake if kinds[v] in GENERATORS.values()]
    res: dict = {"candidate": args.candidate, "thr98_heldout_real": thr,
                 "talking_heads_vs_heldout": auc(np.array([fake[v] for v in th]), rh),
                 "talking_heads_vs_all_real": auc(np.array([fake[v] for v in th]), ra),
                 "n_talking_heads": len(th), "n_heldout_real": len(rh), "n_all_real": len(ra)}
    for g in sorted(set(kinds.values())):
        vs = [v for v in fake if kinds[v] == g]
        res[f"{g} (n={len(vs)}) vs heldout"] = auc(np.array([fake[v] for v in vs]), rh)
    res["heldout_real_above_thr"] = float(np.mean(rh > thr))
    res["training_real_above_thr"] = float(np.mean(rt > thr))
    res["all_real_above_thr"] = float(np.mean(ra > thr))
    res["talking_heads_above_thr"] = float(np.mean([fake[v] > thr for v in th]))
    print(json.dumps(res, indent=1))
    with (out / "looks.jsonl").open("a") as fh:
        fh.write(json.dumps({"time": time.strftime("%Y-%m-%d %H:%M"), **res}) + "\n")
    return 0


def cmd_time(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(1)
    faces = FaceSet.load(REAL)
    src = faces.sources.astype(str)
    idx = np.flatnonzero(src == src[0])[:WINDOW]
    frames, lm = faces.images[idx], np.asarray(faces.landmarks[idx], np.float32)[..., :2]
    enc = FrameEncoder(EncoderConfig())
    widths = EncoderConfig().widths
    f = enc.encode(frames)
    basis = fit_basis(np.tile(f, (4, 1)) + np.random.default_rng(0).normal(0, 0.01, (4 * len(f), f.shape[1])),
                      sum(widths[:-1]), sum(widths), PCA_K)
    te, td, tc = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        f = enc.encode(frames)
        t1 = time.perf_counter()
        window_dynamics(f, lm, widths, basis)
        t2 = time.perf_counter()
        window_cues(frames, lm)
        t3 = time.perf_counter()
        te.append(t1 - t0)
        td.append(t2 - t1)
        tc.append(t3 - t2)
    for name, ts in (("encode 8 views (MobileNetV2 160 px, 3 taps)", te), ("window_dynamics", td),
                     ("window_cues (part 2)", tc)):
        print(f"{name}: {1000 * np.median(ts):.1f} ms median, {1000 * min(ts):.1f} min (of {args.repeat})")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage", choices=("pairs", "videos", "fit", "look", "time"))
    ap.add_argument("--out", default=str(ROOT / "out" / "animation-frames"))
    ap.add_argument("--split", choices=("train", "val"), default="train")
    ap.add_argument("--set", choices=("real", "fake"), default="real")
    ap.add_argument("--train-pairs", type=int, default=400)
    ap.add_argument("--val-pairs", type=int, default=160)
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 strength of the logistic heads")
    ap.add_argument("--candidate", choices=tuple(CANDIDATES), default="conv+resynth")
    ap.add_argument("--repeat", type=int, default=10)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    try:
        return {"pairs": cmd_pairs, "videos": cmd_videos, "fit": cmd_fit, "look": cmd_look,
                "time": cmd_time}[args.stage](args)
    except UnmaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
