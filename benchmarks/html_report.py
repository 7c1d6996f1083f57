"""The HTML report of a long clip: its size, and that it opens in Chromium with the network cut off.

    nice -n 10 .venv/bin/python benchmarks/html_report.py --seconds 60 --out bench-service/html.json

Scans a synthetic clip of the given length with the real pipeline, renders the report,
then loads the file in Debian's chromium (Playwright, offline context, every request
other than the file itself refused and counted) and checks the verdict is on screen.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--size", default="1280x720", help="clip frame size")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scan setting, as unmask scan --set")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--screenshot", type=Path, default=None)
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from unmask.config import ScanConfig
    from unmask.pipeline import Scanner
    from unmask.report.html import render_html
    from unmask.synth import write_face_clip

    w, h = (int(x) for x in args.size.split("x"))
    overrides = dict(kv.split("=", 1) for kv in args.set)
    with tempfile.TemporaryDirectory(prefix="unmask-html-") as tmp:
        clip = write_face_clip(Path(tmp) / "long.mp4", seconds=args.seconds, size=(w, h))
        config = ScanConfig.load(overrides=overrides)
        t0 = time.perf_counter()
        report = Scanner(config).scan(clip)
        scan_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        html = render_html(report, settings=config.to_dict())
        render_s = time.perf_counter() - t0
        page_path = Path(tmp) / "report.html"
        page_path.write_text(html, encoding="utf-8")
        size = page_path.stat().st_size

        refused: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            ctx = browser.new_context(offline=True, viewport={"width": 1100, "height": 1400})
            page = ctx.new_page()

            def route(r) -> None:
                if r.request.url == page_path.as_uri():
                    r.continue_()
                else:
                    refused.append(r.request.url[:80])
                    r.abort()

            page.route("**/*", route)
            t0 = time.perf_counter()
            page.goto(page_path.as_uri(), wait_until="load")
            load_ms = 1000 * (time.perf_counter() - t0)
            label = page.get_attribute("#verdict", "data-label")
            shown = page.is_visible("#verdict")
            broken = page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length")
            images = page.evaluate("document.images.length")
            if args.screenshot:
                page.screenshot(path=str(args.screenshot), full_page=True)
            browser.close()

    kinds: dict[str, int] = {}
    for a in report.attachments:
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    result = {
        "clip_seconds": args.seconds, "clip_size": args.size, "settings": overrides,
        "label": report.label, "faces": len(report.data["faces"]), "attachments": kinds,
        "attachment_bytes": sum(len(a.data) for a in report.attachments),
        "json_bytes": len(report.to_json(indent=None).encode()),
        "html_bytes": size, "html_mb": round(size / 1e6, 3),
        "scan_s": round(scan_s, 2), "render_ms": round(1000 * render_s, 1),
        "chromium_load_ms": round(load_ms, 1), "verdict_shown": bool(shown and label == report.label),
        "images": images, "broken_images": broken, "requests_refused": refused,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    ok = result["verdict_shown"] and not refused and broken == 0 and size < 5_000_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
