"""``make demo``: scan a clip and print the verdict.

With no argument it first builds a 6-second clip from the astronaut portrait
that ships with scikit-image (a real photo drifting in frame), so it runs on a
fresh machine with nothing but the repository. ``make demo VIDEO=path`` scans
your own file instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

from unmask.cli import main as cli_main
from unmask.process_io import silence_native_logs
from unmask.synth import write_face_clip

DEMO_DIR = Path("out")


def main(argv: list[str]) -> int:
    silence_native_logs()
    DEMO_DIR.mkdir(exist_ok=True)
    if argv:
        video = argv[0]
    else:
        video = str(DEMO_DIR / "demo-astronaut.mp4")
        print(f"building a demo clip from scikit-image's astronaut photo: {video}")
        write_face_clip(video, seconds=6.0)
    report = DEMO_DIR / (Path(video).stem + ".report.json")
    code = cli_main(["scan", video, "--json", str(report)])
    if code == 0:
        print(f"full report: {report}")
        if not argv:
            print("note: the demo clip is a still photograph moved by software, like the talking-head fakes made "
                  "from one photo, so being flagged is the expected answer. Try `make demo VIDEO=your_clip.mp4`.")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
