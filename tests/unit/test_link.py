"""One person is one face: tracks linked across bursts, gaps and cuts (synthetic tracks and embeddings)."""

from __future__ import annotations

import numpy as np
import pytest

from unmask.config import FaceConfig
from unmask.faces.link import embedding_plan, link_tracks, mean_embeddings
from unmask.types import FaceObs, FaceTrack, Person

RNG = np.random.default_rng(0)
ALICE, BOB, CAROL = (RNG.normal(0, 0.09, 128) for _ in range(3))  # dlib-like: people ~1.0 apart


def _crop(seed: int) -> np.ndarray:
    """A 64 px crop: a textured face-sized blob whose texture (and colour) depends on ``seed``."""
    rng = np.random.default_rng(seed)
    base = np.full((8, 8, 3), 20, np.uint8)
    base[..., seed % 3] = rng.integers(120, 255, (8, 8), dtype=np.uint8)  # a hue of its own
    return np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))


def _track(tid: int, t0: float, t1: float, x: float = 100.0, look: int = 0, n: int = 6) -> FaceTrack:
    obs = tuple(FaceObs(frame_index=int(t * 100), t=float(t), box=(x, 100.0, x + 80.0, 180.0), score=0.9,
                        crop=_crop(look), crop_box=(x - 20.0, 80.0, x + 100.0, 200.0))
                for t in np.linspace(t0, t1, n))
    return FaceTrack(tid, obs)


def _emb(person: np.ndarray, seed: int) -> np.ndarray:
    """One track's mean embedding: the person's plus a little per-track noise (pose, light)."""
    return person + np.random.default_rng(seed).normal(0, 0.02, 128)


def _groups(persons: tuple[Person, ...]) -> list[tuple[int, ...]]:
    return [p.track_ids for p in persons]


def test_one_person_across_bursts_is_one_face() -> None:
    """A 48 s clip of one person read in 16 bursts: 16 tracks, one person."""
    tracks = [_track(k + 1, 3.0 * k, 3.0 * k + 2.2, x=100 + 40 * (k % 3)) for k in range(16)]
    persons = link_tracks(tracks, {t.id: _emb(ALICE, t.id) for t in tracks})
    assert _groups(persons) == [tuple(range(1, 17))]
    assert persons[0].id == 1


def test_a_two_person_interview_is_two_faces() -> None:
    """Shot / reverse shot: the two people alternate at the same place in the frame."""
    tracks = [_track(k + 1, 5.0 * k, 5.0 * k + 4.5) for k in range(8)]
    who = {t.id: (ALICE if t.id % 2 else BOB) for t in tracks}
    persons = link_tracks(tracks, {t.id: _emb(who[t.id], t.id) for t in tracks})
    assert _groups(persons) == [(1, 3, 5, 7), (2, 4, 6, 8)]


def test_a_cut_between_two_people_is_two_faces() -> None:
    """Same place, same size, right after each other: only the faces tell them apart."""
    tracks = [_track(1, 0.0, 9.9), _track(2, 10.0, 20.0)]
    persons = link_tracks(tracks, {1: _emb(ALICE, 1), 2: _emb(CAROL, 2)})
    assert _groups(persons) == [(1,), (2,)]


def test_two_faces_seen_together_are_never_one_person() -> None:
    """Even identical twins (same embedding): seen at the same moment, they are two people."""
    tracks = [_track(1, 0.0, 5.0, x=50), _track(2, 1.0, 6.0, x=400), _track(3, 8.0, 9.0, x=50)]
    persons = link_tracks(tracks, {1: _emb(ALICE, 1), 2: _emb(ALICE, 2), 3: _emb(ALICE, 3)})
    assert len(persons) == 2
    assert _groups(persons)[1] == (2,) or _groups(persons)[0] == (1,)  # 3 joins one of them, 1 and 2 stay apart
    assert not any({1, 2} <= set(p.track_ids) for p in persons)


def test_persons_are_numbered_by_first_appearance_and_keep_track_numbers_when_nothing_links() -> None:
    tracks = [_track(1, 0.0, 2.0, x=50), _track(2, 0.0, 2.0, x=300), _track(3, 0.0, 2.0, x=550)]
    persons = link_tracks(tracks, {1: _emb(ALICE, 1), 2: _emb(BOB, 2), 3: _emb(CAROL, 3)})
    assert [(p.id, p.track_ids) for p in persons] == [(1, (1,)), (2, (2,)), (3, (3,))]


def test_small_faces_link_by_place_and_look() -> None:
    """No embedding (too small): the nearest stretch at the same place that looks alike."""
    tracks = [_track(1, 0.0, 2.0, x=100, look=1), _track(2, 5.0, 7.0, x=104, look=1),
              _track(3, 10.0, 12.0, x=600, look=1),  # elsewhere in the frame
              _track(4, 15.0, 17.0, x=100, look=2)]  # same place, another look (a cut)
    persons = link_tracks(tracks, {})
    assert _groups(persons) == [(1, 2), (3,), (4,)]


def test_a_small_face_joins_the_embedded_person_at_its_place() -> None:
    tracks = [_track(1, 0.0, 2.0, x=100, look=1), _track(2, 3.0, 4.0, x=100, look=1), _track(3, 6.0, 8.0, x=500, look=3)]
    persons = link_tracks(tracks, {1: _emb(ALICE, 1), 3: _emb(BOB, 3)})
    assert _groups(persons) == [(1, 2), (3,)]


def test_the_distance_threshold_decides() -> None:
    tracks = [_track(1, 0.0, 2.0), _track(2, 5.0, 7.0)]
    a, b = np.zeros(128), np.zeros(128)
    b[0] = 0.5
    assert len(link_tracks(tracks, {1: a, 2: b}, max_distance=0.6)) == 1
    assert len(link_tracks(tracks, {1: a, 2: b}, max_distance=0.4)) == 2


def test_embedding_plan_shares_the_temporal_analyzers_embeddings_and_stays_bounded() -> None:
    cfg = FaceConfig()
    few = [_track(k + 1, 3.0 * k, 3.0 * k + 2.0, n=10) for k in range(3)]
    assert embedding_plan(few, cfg, identity_frames=6, shared_tracks=4) == {1: 6, 2: 6, 3: 6}
    assert embedding_plan(few[:1], cfg, identity_frames=6, shared_tracks=4) == {1: 0}  # nothing to link
    bursts = [_track(k + 1, 3.0 * k, 3.0 * k + 2.0, n=10) for k in range(60)]
    assert set(embedding_plan(bursts, cfg, identity_frames=6, shared_tracks=4).values()) == {cfg.link_embeddings}
    many = [_track(k + 1, 3.0 * k, 3.0 * k + 2.0, n=10) for k in range(200)]
    assert set(embedding_plan(many, cfg, identity_frames=6, shared_tracks=4).values()) == {1}  # one each, not none
    too_many = [_track(k + 1, 3.0 * k, 3.0 * k + 2.0, n=10 + k % 2) for k in range(300)]
    plan = embedding_plan(too_many, cfg, identity_frames=6, shared_tracks=4)
    assert sum(plan.values()) == cfg.link_max_embeddings
    assert all(plan[t.id] == 1 for t in too_many if len(t) == 11)  # the longest first


def test_mean_embeddings_skip_faces_too_small_to_embed() -> None:
    tracks = [_track(1, 0.0, 2.0, n=3), _track(2, 3.0, 4.0)]

    def embed(o: FaceObs) -> np.ndarray | None:
        return None if o.t >= 3.0 else np.full(128, o.t)

    out = mean_embeddings(tracks, {1: 3, 2: 3}, embed)
    assert set(out) == {1} and out[1] == pytest.approx(np.full(128, 1.0))
