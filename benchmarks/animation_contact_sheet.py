"""Contact sheet of one-photo animation pseudo-fakes (issue 17) on a public-domain face.

    PYTHONPATH=src python benchmarks/animation_contact_sheet.py --out docs/img/animation-pseudofakes.png

The still is scikit-image's ``astronaut`` photo (NASA, Eileen Collins; public domain), cut into a
whole-face view as the training caches hold them (``faces.align.face_view``). The drivers are
procedural: the astronaut's own 478-point mesh moved by a head turn (yaw from the mesh's depth),
tilt and nod, a mouth opening and closing, and a blink. Each block shows the still (left, with the
options used), the driver as a landmark wireframe, and the still animated by it.

``--motion-from MANIFEST`` adds blocks driven by the landmark motion of real clips of a manifest
(label=real only); those drivers are drawn as wireframes too, so the sheet holds numbers measured
on the clips, never their pixels.

``--real-clips OUT --manifest MANIFEST`` instead writes the original sheet of real clips (stills,
drivers and the still's own frames, all pixels of the clips) to OUT for a local look. The clips
of ``../shared/data`` are research-only: that sheet must never be committed, so OUT may not be in
``docs/`` (``out/``, which git ignores, is the place).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

from unmask.config import FaceConfig, SamplingConfig
from unmask.errors import UnmaskError
from unmask.faces.align import face_view
from unmask.faces.finder import FaceFinder
from unmask.faces.regions import FACE_OVAL, LEFT_BROW, RIGHT_BROW
from unmask.faces.warp import INNER_LIPS, LEFT_CORNERS, LEFT_LIDS, OUTER_LIPS, RIGHT_CORNERS, RIGHT_LIDS
from unmask.media.decode import FrameReader
from unmask.media.probe import probe
from unmask_training.learned.animate import AnimationOptions, animate, draw_options, set_lids

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sbi_contact_sheet import astronaut_views, save_small  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MANIFEST = REPO.parent / "shared" / "data" / "manifest.csv"
DEFAULT_CLIPS = (
    "media/real/hdtf/WDA_EdMarkey0_000.mp4",
    "media/real/hdtf/WDA_KatieHill_000.mp4",
    "media/real/styletalk/KristiNoem.mp4",
)
#: the procedural drivers: (name, photo variant of sbi_contact_sheet.VARIANTS, motion, options)
PROCEDURAL = (
    (("turn, tilt,", "mouth, blink"), 0, dict(yaw=14.0, roll=5.0, pitch=4.0, mouth=0.30, talk=1, blink=0.62),
     AnimationOptions(background="static", blink="driver", expression_gain=1.0)),
    (("nod, tilt,", "talk, blink"), 1, dict(yaw=-8.0, roll=-4.0, pitch=8.0, mouth=0.22, talk=2, blink=0.4),
     AnimationOptions(background="rigid", blink="frozen", expression_gain=1.2)),
)
#: nose bridge and nostrils, for the wireframe
_NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1)
_NOSTRILS = (98, 2, 327)


# --- procedural drivers ----------------------------------------------------------------------------------

def head_pose(xy: np.ndarray, depth: np.ndarray, yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The mesh turned (yaw, about the vertical axis), nodded (pitch) and tilted (roll), in degrees,
    about its centre, and projected orthographically: a 3-D head motion in 2-D landmarks."""
    c = np.array([xy[:, 0].mean(), xy[:, 1].mean(), float(depth.mean())])
    p = np.column_stack([xy, depth]).astype(np.float64) - c
    y, x, r = np.deg2rad([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(x), -np.sin(x)], [0, np.sin(x), np.cos(x)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return (p @ (rz @ rx @ ry).T + c)[:, :2].astype(np.float32)


def open_jaw(xy: np.ndarray, amount: float) -> np.ndarray:
    """The lower lip, chin and jaw lowered by ``amount`` x the mouth's width (0 leaves the face as it is).

    Points move by a weight that rises from 0 at the upper inner lip to 1 at the lower inner lip and
    below, and falls off toward the sides of the face (the jaw hinges near the ears)."""
    out = np.array(xy, np.float32, copy=True)
    width = float(np.linalg.norm(xy[78] - xy[308]))
    y_up, y_lo = float(xy[13, 1]), float(xy[14, 1])
    span = max(y_lo - y_up, 0.05 * width)
    cx = float(xy[list(FACE_OVAL), 0].mean())
    half = 0.5 * float(np.ptp(xy[list(FACE_OVAL), 0]))
    w = np.clip((xy[:, 1] - y_up) / span, 0.0, 1.0) * np.exp(-((xy[:, 0] - cx) / (0.75 * half)) ** 2)
    out[:, 1] += amount * width * w
    return out


def procedural_driver(xy: np.ndarray, depth: np.ndarray, frames: int, yaw: float, roll: float, pitch: float,
                      mouth: float, talk: int, blink: float) -> np.ndarray:
    """T x 478 x 2 landmarks of the still's own mesh moving: the head swings ``yaw``/``pitch``/``roll``
    degrees and back, the mouth opens to ``mouth`` x its width and closes ``talk`` times, and the eyes
    blink once around ``blink`` (a fraction of the clip)."""
    u = np.linspace(0.0, 1.0, frames)
    out = []
    for t in u:
        f = open_jaw(xy, mouth * float(np.sin(np.pi * talk * t) ** 2))
        closed = float(np.exp(-(((t - blink) * (frames - 1)) / 0.8) ** 2))  # a blink about two frames long
        f = set_lids(f, xy, 1.0 - 0.9 * closed)
        s = float(np.sin(2 * np.pi * t))
        out.append(head_pose(f, depth, yaw * s, pitch * float(np.sin(np.pi * t)), roll * s))
    return np.stack(out).astype(np.float32)


# --- drawing -----------------------------------------------------------------------------------------------

def _eye_loop(lids, corners) -> list[int]:
    return [corners[0]] + [u for u, _ in lids] + [corners[1]] + [lo for _, lo in lids][::-1]


WIRES = (  # (indices, closed)
    (FACE_OVAL, True), (LEFT_BROW[:5], False), (RIGHT_BROW[:5], False),
    (tuple(_eye_loop(RIGHT_LIDS, RIGHT_CORNERS)), True), (tuple(_eye_loop(LEFT_LIDS, LEFT_CORNERS)), True),
    (OUTER_LIPS, True), (INNER_LIPS, True), (_NOSE_BRIDGE, False), (_NOSTRILS, False),
)


def wireframe(xy: np.ndarray, size: int, ref: np.ndarray | None = None) -> np.ndarray:
    """The landmarks as a line drawing on white: all 478 points grey, the outline, brows, eyes, irises,
    nose and lips black. ``ref`` (another frame's landmarks) is drawn faintly underneath."""
    scale = 4  # drawn at 4x and shrunk: smooth lines at thumbnail size
    img = np.full((size * scale, size * scale, 3), 255, np.uint8)
    q = lambda a: np.round(np.asarray(a, np.float64) * scale).astype(np.int32)  # noqa: E731
    if ref is not None:
        for idx, closed in WIRES:
            cv2.polylines(img, [q(ref[list(idx)])], closed, (200, 215, 240), 2 * scale, cv2.LINE_AA)
    for x, y in q(xy):
        cv2.circle(img, (int(x), int(y)), scale, (170, 170, 170), -1, cv2.LINE_AA)
    for idx, closed in WIRES:
        cv2.polylines(img, [q(xy[list(idx)])], closed, (20, 20, 20), int(1.5 * scale), cv2.LINE_AA)
    for iris in (468, 473):
        r = 0.45 * float(np.linalg.norm(xy[iris + 1] - xy[iris + 3]))
        cv2.circle(img, tuple(int(v) for v in q(xy[iris])), max(1, int(r * scale)), (40, 90, 200), scale, cv2.LINE_AA)
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)


# --- real clips ------------------------------------------------------------------------------------------

def clip_views(path: Path, finder: FaceFinder, frames: int, fps: float, size: int, zoom: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """(views, landmarks) of the largest face in the first ``frames`` sampled frames that have one."""
    sampling = SamplingConfig(fps=fps, max_frames=10_000)
    finder.reset()
    views, marks = [], []
    for frame in FrameReader(probe(path, sampling), sampling):
        faces = [o for o in finder.process(frame) if o.landmarks is not None]
        if not faces:
            continue
        obs = max(faces, key=lambda o: o.size)
        view = face_view(obs, size, zoom)
        if view is None:
            continue
        views.append(view.image)
        marks.append(view.map_points(obs.landmarks_in_crop()))
        if len(views) == frames:
            break
    if len(views) < frames:
        raise UnmaskError(f"{path}: only {len(views)} of {frames} frames with a meshed face")
    return np.stack(views), np.stack(marks).astype(np.float32)


def _tile(img: np.ndarray, tile: int, label: str = "") -> np.ndarray:
    out = cv2.resize(img, (tile, tile), interpolation=cv2.INTER_AREA)
    if label:
        cv2.putText(out, label, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 2, cv2.LINE_AA)
        cv2.putText(out, label, (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _text_tile(lines: list[str], tile: int) -> np.ndarray:
    out = np.full((tile, tile, 3), 255, np.uint8)
    for k, line in enumerate(lines):
        cv2.putText(out, line, (3, 12 + 12 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _block(left: list[np.ndarray], rows: list[np.ndarray], tile: int) -> np.ndarray:
    """The still and its notes in a left column, the sequence rows to the right, 4 px of white below."""
    while len(left) < len(rows):
        left.append(np.full((tile, tile, 3), 255, np.uint8))
    block = np.hstack([np.vstack(left[:len(rows)]), np.vstack(rows)])
    return np.vstack([block, np.full((4, block.shape[1], 3), 255, np.uint8)])


def _info(name: tuple[str, ...], opts: AnimationOptions, filled: np.ndarray) -> list[str]:
    return [*name, f"bg {opts.background}", f"eyes {opts.blink}", f"gain {opts.expression_gain:.2f}",
            f"mouth fill {int(filled.sum())}/{len(filled)}"]


def _row(frames, tile: int, label: str) -> np.ndarray:
    return np.hstack([_tile(f, tile, label if k == 0 else "") for k, f in enumerate(frames)])


def _real_rows(manifest: Path, clips: str) -> list[Path]:
    with manifest.open(newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    wanted = [c.strip() for c in clips.split(",") if c.strip()]
    for c in wanted:
        if c not in rows or rows[c]["label"].strip().lower() != "real":
            raise UnmaskError(f"{c}: not a real clip of {manifest}")
    return [manifest.parent / c for c in wanted]


def astronaut_sheet(a: argparse.Namespace) -> np.ndarray:
    """The committed sheet: the public-domain still, procedural drivers (and, with ``--motion-from``, real
    clips' landmark motion), drivers drawn as wireframes only."""
    rng = np.random.default_rng(a.seed)
    t = a.tile
    with FaceFinder(FaceConfig(crop_size=a.size)) as finder:
        views = astronaut_views(a.size, a.zoom, finder=finder)
        drivers = []
        for name, variant, motion, opts in PROCEDURAL:
            view, xy, depth = views[variant]
            drivers.append((name, view, xy, procedural_driver(xy, depth, a.frames, **motion), opts))
        if a.motion_from is not None:
            view, xy, _ = views[0]
            for path in _real_rows(a.motion_from, a.clips):
                _, marks = clip_views(path, finder, a.frames, a.fps, a.size, a.zoom)
                drivers.append((("real clip's", "motion"), view, xy, marks, None))
    blocks = []
    for name, view, xy, drv, opts in drivers:
        opts = opts or draw_options(rng)
        anim = animate(view, xy, drv, rng, opts)
        rows = [_row([wireframe(d, a.size, ref=drv[0]) for d in drv], t, "driver"),
                _row(anim.frames, t, "animated")]
        blocks.append(_block([_tile(view, t, "still"), _text_tile(_info(name, opts, anim.mouth_filled), t)], rows, t))
    return np.vstack(blocks)[:-4]


def real_clip_sheet(a: argparse.Namespace) -> np.ndarray:
    """The local-only sheet: stills, drivers and real frames are all pixels of the manifest's clips."""
    paths = _real_rows(a.manifest, a.clips)
    if len(paths) < 2:
        raise UnmaskError("need at least two clips (a still's clip and a driver)")
    with FaceFinder(FaceConfig(crop_size=a.size)) as finder:
        clips = [clip_views(c, finder, a.frames, a.fps, a.size, a.zoom) for c in paths]
    rng = np.random.default_rng(a.seed)
    t = a.tile
    blocks = []
    for i, (views, marks) in enumerate(clips):
        dviews, dmarks = clips[(i + 1) % len(clips)]
        opts = draw_options(rng)
        anim = animate(views[0], marks[0], dmarks, rng, opts)
        info = _info(("real clips",), opts, anim.mouth_filled) + [f"teeth {'yes' if opts.teeth else 'no'}"]
        rows = [_row(dviews, t, "driver"), _row(anim.frames, t, "animated"), _row(views, t, "real")]
        blocks.append(_block([_tile(views[0], t, "still"), _text_tile(info, t)], rows, t))
    return np.vstack(blocks)[:-4]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/img/animation-pseudofakes.png"))
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=256, help="face view side the animation runs at")
    p.add_argument("--zoom", type=float, default=1.5)
    p.add_argument("--tile", type=int, default=88)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--max-kb", type=int, default=290, help="palette-reduce the PNG when it is larger")
    p.add_argument("--motion-from", type=Path, metavar="MANIFEST",
                   help="also drive the still with the landmark motion of --clips (drawn as wireframes only)")
    p.add_argument("--real-clips", type=Path, metavar="OUT",
                   help="instead write a sheet of the real clips' own pixels to OUT (local only: never commit it)")
    p.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, help="manifest of --real-clips")
    p.add_argument("--clips", default=",".join(DEFAULT_CLIPS), help="comma-separated manifest paths (real, one per person)")
    p.add_argument("--fps", type=float, default=5.0, help="sampling rate of the clips")
    a = p.parse_args(argv)
    try:
        if a.real_clips is not None:
            out = a.real_clips
            if out.resolve().is_relative_to(REPO / "docs"):
                raise UnmaskError(f"{out}: a sheet of research-only clips must not go into docs/ (try out/)")
            sheet = real_clip_sheet(a)
        else:
            out = a.out
            sheet = astronaut_sheet(a)
        save_small(sheet, out, a.max_kb * 1000)
        print(f"{out}: {sheet.shape[1]}x{sheet.shape[0]}, {out.stat().st_size / 1e3:.0f} kB")
    except (UnmaskError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
