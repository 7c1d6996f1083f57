"""blend_cnn with stand-in models: the analyzer's logic, independent of any trained weights."""

from dataclasses import replace

import numpy as np
from conftest import assert_well_formed

from unmask.analyzers.blend_cnn import BlendCNNAnalyzer, top_mean
from unmask.config import ScanConfig
from unmask.types import FaceTrack, MediaContext, MediaInfo, SampledFrame


class _Model:
    """Returns scripted probabilities; records what it was given."""

    polar = False
    manifest: dict = {}  # a stub reads no weights file, so it names no sha256

    def __init__(self, probs, available=True):
        self.probs, self.available, self.seen = probs, available, []

    def load(self):
        pass

    def predict(self, faces, landmarks=None):
        self.seen.append(faces.shape)
        assert landmarks is not None and landmarks.shape == (len(faces), 478, 2)
        p = np.asarray(self.probs[: len(faces)], np.float32)
        return p, np.zeros((len(faces), 32, 32), np.float32)


class _PolarModel(_Model):
    """A polar model whose seam map lights up one column: the chin (column 5 of 8: 45-90 degrees, y down)."""

    polar = True

    def predict(self, faces, landmarks=None):
        p, _ = super().predict(faces, landmarks)
        maps = np.zeros((len(faces), 6, 8), np.float32)
        maps[:, 2:4, 5] = 0.9
        return p, maps


def _ctx(track):
    info = MediaInfo("x.mp4", "0" * 64, 1, "mp4", "video", "h264", 4.0, 25.0, 512, 512)
    return MediaContext(info, (), tuple(SampledFrame(o.frame_index, o.t, 0, 1) for o in track.observations), (track,))


def _track(obs, n):
    return FaceTrack(1, tuple(replace(obs, frame_index=i, t=i * 0.25) for i in range(n)))


def test_no_weights_means_skipped(astronaut_obs):
    r = BlendCNNAnalyzer(_Model([], available=False)).analyze(_ctx(_track(astronaut_obs, 4)))
    assert r.status == "skipped" and "weights" in r.reason


def test_scores_aligned_faces_and_reports_spans(astronaut_obs):
    probs = [0.1] * 8 + [0.9] * 8
    model = _Model(probs)
    r = BlendCNNAnalyzer(model).analyze(_ctx(_track(astronaut_obs, 40)))
    assert_well_formed(r)
    assert model.seen == [(16, 256, 256, 3)]  # 16 evenly spaced aligned faces in one batch
    ts = r.for_track(1)
    assert abs(ts.score - top_mean(np.array(probs))) < 1e-6 and abs(ts.score - 0.9) < 1e-6
    assert abs(ts.features["prob_med"] - 0.5) < 1e-6
    assert r.evidence and r.evidence[0].cue == "learned_blend" and r.evidence[0].t_start > 4.0


def test_track_without_landmarks_is_not_scored(astronaut_obs):
    r = BlendCNNAnalyzer(_Model([0.5] * 4)).analyze(_ctx(_track(replace(astronaut_obs, landmarks=None), 4)))
    assert r.status == "skipped"


def test_on_by_default_with_shipped_weights_that_verify():
    from unmask.learned.runtime import BlendModel

    assert "blend_cnn" in ScanConfig().analyzers
    assert "blend_cnn" not in ScanConfig.load(env={}, overrides={"analyzers": "glitches,blinks"}).analyzers
    m = BlendModel()
    m.load()  # the sha256 in the manifest matches the shipped ONNX
    assert m.view and m.size == 224 and m.onnx_path.stat().st_size < 20e6
    man = m.manifest
    assert man["training_command"].startswith("unmask-train train") and "--steps" in man["training_command"]
    assert man["backbone"]["sha256"] and man["validation"]["pseudo_auc"] > 0.8
    parent = man["continued_from"]  # continued from the first shipped run, whose command is kept with it
    assert len(parent["sha256"]) == 64 and parent["training_command"].startswith("unmask train")


def test_polar_model_says_where_on_the_outline_and_draws_heatmaps(astronaut_obs):
    r = BlendCNNAnalyzer(_PolarModel([0.9] * 16)).analyze(_ctx(_track(astronaut_obs, 16)))
    assert_well_formed(r)
    assert r.evidence and "the chin, right (as seen)" in r.evidence[0].detail
    assert 1 <= len(r.heatmaps) <= 2
    hm = r.heatmaps[0]
    assert hm.image.shape == (256, 256, 3) and hm.heat.shape == (256, 256) and hm.heat.max() > 0.5
    ys, xs = np.nonzero(hm.heat > 0.5 * hm.heat.max())
    assert ys.mean() > 128  # the chin is in the lower half of the aligned face


def test_no_heatmaps_when_nothing_is_suspicious(astronaut_obs):
    r = BlendCNNAnalyzer(_PolarModel([0.1] * 16)).analyze(_ctx(_track(astronaut_obs, 16)))
    assert r.status == "ok" and not r.heatmaps and not r.evidence


class _ViewModel(_Model):
    """A whole-face view model whose class-activation map lights up the bottom row of the crop: the chin."""

    view = True
    view_size = 256
    view_zoom = 1.5
    manifest = {"input": {"crop_zoom": 1.3}}

    def predict(self, faces, landmarks=None):
        p, _ = super().predict(faces, landmarks)
        cams = np.zeros((len(faces), 5, 5), np.float32)
        cams[:, 4, 2] = 0.95
        return p, cams


def test_view_model_says_where_and_in_how_many_frames(astronaut_obs):
    probs = [0.2] * 10 + [0.9] * 6
    model = _ViewModel(probs)
    r = BlendCNNAnalyzer(model).analyze(_ctx(_track(astronaut_obs, 16)))
    assert_well_formed(r)
    assert model.seen == [(16, 256, 256, 3)]  # whole-face views, one batch
    ts = r.for_track(1)
    assert abs(ts.features["frac_flagged"] - 6 / 16) < 1e-6 and "boundary_peak_med" not in ts.features
    assert "in 6 of 16 frames" in r.explanation and "along the jaw and chin" in r.explanation
    ev = r.evidence[0]
    assert "learned swap detector" in ev.detail and "along the jaw and chin" in ev.detail and "6 of the 6 frames" in ev.detail
    assert 1 <= len(r.heatmaps) <= 2
    hm = r.heatmaps[0]
    side = int(round(256 * 1.3 / 1.5))
    assert hm.image.shape == (side, side, 3) and hm.heat.shape == (side, side)
    ys, _ = np.nonzero(hm.heat > 0.5 * hm.heat.max())
    assert ys.mean() > side * 0.7  # the bright part is at the bottom, where the map peaked


def test_view_model_with_nothing_flagged_says_so_without_findings(astronaut_obs):
    r = BlendCNNAnalyzer(_ViewModel([0.3] * 16)).analyze(_ctx(_track(astronaut_obs, 16)))
    assert r.status == "ok" and not r.evidence and not r.heatmaps
    assert "no clear traces" in r.explanation and "0.30" in r.explanation


def test_cam_region_names_parts_of_the_face(astronaut_obs):
    from unmask.analyzers.blend_cnn import cam_region
    from unmask.faces.align import face_view

    v = face_view(astronaut_obs, 256, 1.5)
    marks = v.map_points(astronaut_obs.landmarks_in_crop())
    cam = np.zeros((16, 16), np.float32)
    side = 256 * 1.3 / 1.5
    off = (256 - side) / 2
    mouth = marks[13]  # upper inner lip
    cam[int((mouth[1] - off) / side * 16), int((mouth[0] - off) / side * 16)] = 1.0
    assert cam_region(cam, marks, 256, 1.5, 1.3) == "around the mouth"
    cam[:] = 0
    top = marks[10]  # top of the forehead, on the outline
    cam[max(0, int((top[1] - off) / side * 16)), int((top[0] - off) / side * 16)] = 1.0
    assert cam_region(cam, marks, 256, 1.5, 1.3) == "along the forehead and hairline"
