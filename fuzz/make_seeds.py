"""Write the fuzzer's seed corpus: small valid files of every kind unmask reads, and damaged, mislabelled
and hostile copies of them (cut off, overwritten in the middle, the wrong suffix, a PNG bomb).

    python fuzz/make_seeds.py OUT_DIR

Each seed is a fuzzer input (``media_target.as_input``: a suffix byte, then the file). Small on
purpose (64x48 px, a second or less) so the fuzzer runs many inputs a second; ~60 seeds, ~1.5 MB.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from media_target import as_input  # noqa: E402
from unmask import synth  # noqa: E402


def _frames(n: int = 8) -> list[np.ndarray]:
    return synth.face_frames(n, (64, 48))


def valid_files(tmp: Path) -> dict[str, Path]:
    """One small file of each container and codec the input layer meets."""
    f = _frames()
    out = {
        "h264.mp4": synth.write_video(tmp / "h264.mp4", f, fps=10),
        "faststart.mp4": synth.write_video(tmp / "faststart.mp4", f, fps=10, faststart=True, gop=2),
        "sound.mp4": synth.write_video(tmp / "sound.mp4", f, fps=10, audio_hz=220.0),
        "rotated.mov": synth.write_video(tmp / "rotated.mov", f, fps=10, rotation=90),
        "vfr.mp4": synth.write_video(tmp / "vfr.mp4", f, pts_s=[0.0, 0.05, 0.2, 0.21, 0.4, 0.7, 0.71, 0.9]),
        "mpeg4.avi": synth.write_video(tmp / "mpeg4.avi", f, fps=10, codec="mpeg4"),
        "h264.mkv": synth.write_video(tmp / "h264.mkv", f, fps=10, gop=2),
        "mjpeg.avi": synth.write_video(tmp / "mjpeg.avi", f, fps=10, codec="mjpeg", pix_fmt="yuvj420p"),
        "anim.gif": synth.write_gif(tmp / "anim.gif", f[:4]),
        "anim.webp": synth.write_webp(tmp / "anim.webp", f[:4]),
        "still.png": synth.write_image(tmp / "still.png", f[0]),
        "still.jpg": synth.write_image(tmp / "still.jpg", f[0], exif_orientation=6),
        "voice.m4a": synth.write_audio(tmp / "voice.m4a", seconds=0.5),
        "pngs.mkv": synth.write_mkv_packets(tmp / "pngs.mkv", [synth.black_png(64, 48)] * 3, 64, 48),
    }
    return out


def seeds(tmp: Path) -> list[tuple[str, bytes]]:
    """(name, fuzzer input) for every seed."""
    out: list[tuple[str, bytes]] = []
    for name, path in valid_files(tmp).items():
        data, suffix = path.read_bytes(), path.suffix
        out.append((name, as_input(suffix, data)))
        for keep in (0.1, 0.3, 0.6):
            out.append((f"{name}.cut{int(keep * 100)}", as_input(suffix, data[: int(len(data) * keep)])))
        mid = bytearray(data)
        a, b = int(len(data) * 0.4), int(len(data) * 0.6)
        mid[a:b] = np.random.default_rng(len(data)).integers(0, 256, b - a, dtype=np.uint8).tobytes()
        out.append((f"{name}.corrupt", as_input(suffix, bytes(mid))))
        wrong = ".mp4" if suffix != ".mp4" else ".gif"
        out.append((f"{name}.as{wrong}", as_input(wrong, data)))  # mislabelled
    bomb = synth.black_png(8000, 8000)  # 64 Mpx behind a 64x48 header
    out.append(("bomb.mkv", as_input(".mkv", synth.write_mkv_packets(tmp / "b.mkv", [synth.black_png(64, 48), bomb], 64, 48).read_bytes())))
    out.append(("bomb.png", as_input(".png", bomb)))
    out.append(("text.mp4", as_input(".mp4", b"this is a shopping list, not a video\n" * 8)))
    out.append(("empty.mp4", as_input(".mp4", b"")))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python fuzz/make_seeds.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        made = seeds(Path(tmp))
    for name, data in made:
        (out / f"{name}-{hashlib.sha1(data).hexdigest()[:8]}").write_bytes(data)
    print(f"wrote {len(made)} seeds ({sum(len(d) for _, d in made) / 1e6:.1f} MB) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
