"""The benchmark page's tables (unmask-train benchdoc, run by `make bench`)."""

from __future__ import annotations


def test_stage_table_says_where_the_time_goes() -> None:
    from unmask_training.benchdoc import stage_table

    clip = {"clip": "1920x1080 10 s 30 fps (synthetic)", "startup_s": 1.5, "decode_only_s": 1.3,
            "timings": {"probe_s": 0.04, "decode_s": 0.5, "faces_s": 3.0, "faces_detect_s": 1.0, "faces_mesh_s": 1.8,
                        "analyzer_blend_cnn_s": 0.2, "analyzer_animation_s": 0.9, "fusion_s": 0.01, "total_s": 6.0}}
    lines = stage_table({"1080p_10s": clip})
    text = "\n".join(lines)
    assert "| 1920x1080 10 s 30 fps |" in text
    assert "| start-up (imports + models, once per process) | 1.50 |" in text
    assert "| face mesh | 1.80 |" in text and "| decode-only, same file (the floor) | 1.30 |" in text
    # analyzers, slowest first; stages no clip has are left out
    assert text.index("animation (analyzer)") < text.index("blend_cnn (analyzer)")
    assert "tracking" not in text
    assert stage_table({"x": {"error": "boom"}}) == []
