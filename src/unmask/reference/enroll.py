"""Enrolment: build a person's profile from verified footage (videos and photos of the real person).

Every file is read with the scan's own face stage at the scan's sampling rate
(8 frames per second: mannerism correlations depend on the rate, so enrolment
and check must match), and long files in 30 s bursts so mannerism windows stay
whole. Which face is the person? In each file the face seen longest is that
file's candidate; with three or more files, the candidates' median embedding
decides and a file whose face does not match it is left out with a note; with
two files that disagree, enrolment refuses (which one is right is the user's
call). Then every face track in a file that matches the person contributes
embeddings (about one per second, the distribution, not a mean) and
mannerism windows.

The voice comes from the same files' sound (:mod:`unmask.reference.voice`):
the speech of every file kept, cut into 3 s segments and embedded; when the
segments hold more than one voice (an interviewer), the voice heard most is
kept. Too little speech leaves the profile without a voice, which is said
in the lines, not refused: the face checks do not need it.

Too little footage is refused with one line that says what is missing:
identity needs :data:`MIN_EMBEDDINGS` usable face images, mannerisms need
:data:`MIN_FACE_VIDEO_S` seconds of the face in video (a few 4 s windows).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from unmask.config import SamplingConfig, ScanConfig
from unmask.errors import EnrolmentError, InputError
from unmask.faces.embed import MIN_FACE_PX, FaceEmbedder, evenly_spaced
from unmask.faces.finder import FaceFinder
from unmask.faces.signals import SIGNAL_NAMES, track_signals
from unmask.media.audio import read_audio
from unmask.media.decode import FrameReader
from unmask.media.probe import probe
from unmask.reference.mannerisms import HOP_S, NOMINAL_FPS, WINDOW_S, track_windows
from unmask.reference.profile import FootageItem, PersonProfile, check_name
from unmask.reference.voice import VoiceEnrolment, VoiceModel, build_voice
from unmask.types import FaceTrack, MediaInfo
from unmask.version import __version__
from unmask.voice.encoder import VoiceEncoder

MIN_EMBEDDINGS = 5
MIN_FACE_VIDEO_S = 6.0
#: the same person's faces are usually closer than this (dlib: 0.6); files and tracks beyond it are someone else
SAME_PERSON = 0.55
EMBED_EVERY_S = 1.0
MAX_EMBEDDINGS_PER_FILE = 120
ANCHOR_EMBEDDINGS = 3
MIN_TRACK_S = 1.0
MIN_TRACK_FRAMES = 6
#: enrolment reads at most this much of one file, in bursts beyond it
MAX_FULL_READ_S = 600.0
BURST_S = 30.0

#: progress(what, fraction of the whole enrolment done)
Progress = Callable[[str, float], None]


def enrol_sampling(base: SamplingConfig, duration_s: float) -> SamplingConfig:
    """The scan's rate and frame size, but every frame budget lifted so a whole file (or its bursts) is read."""
    span = min(duration_s, MAX_FULL_READ_S)
    frames = int(math.ceil(span * NOMINAL_FPS)) + 64
    # long files: the same MAX_FULL_READ_S / BURST_S bursts as ever, not the scan's spread over the whole length
    return replace(base, fps=NOMINAL_FPS, max_frames=frames, long_max_frames=frames,
                   full_decode_max_s=MAX_FULL_READ_S, burst_s=BURST_S, burst_every_s=MAX_FULL_READ_S)


@dataclass
class FileFaces:
    """One file's faces, before we know which is the person."""

    path: Path
    info: MediaInfo | None
    tracks: tuple[FaceTrack, ...] = ()
    error: str = ""
    # (track, median embedding)
    candidates: list[tuple[FaceTrack, npt.NDArray[np.float32]]] = field(default_factory=list)
    name: str = ""  # what the profile and messages call the file (default: its file name)

    def __post_init__(self) -> None:
        self.name = self.name or self.path.name


def read_file_faces(path: str | Path, finder: FaceFinder, config: ScanConfig) -> FileFaces:
    """Probe and run the face stage over a whole file (enrolment sampling). Input problems go into ``error``."""
    p = Path(path)
    try:
        info = probe(p, config.sampling)
        samp = enrol_sampling(config.sampling, info.duration_s)
        finder.reset()
        for frame in FrameReader(info, samp):
            finder.process(frame)
        return FileFaces(p, info, finder.tracks())
    except InputError as e:
        return FileFaces(p, None, (), e.problem)


def usable_tracks(ff: FileFaces) -> list[FaceTrack]:
    """Tracks big, long and meshed enough to enrol from."""
    out = []
    for tr in ff.tracks:
        if tr.median_size < MIN_FACE_PX or not tr.with_landmarks:
            continue
        if ff.info is not None and ff.info.kind != "image":
            if len(tr.with_landmarks) < MIN_TRACK_FRAMES or tr.end_t - tr.start_t < MIN_TRACK_S:
                continue
        out.append(tr)
    return out


@dataclass(frozen=True)
class Enrolment:
    """A finished enrolment: the profile and one line per file saying what it gave."""

    profile: PersonProfile
    lines: tuple[str, ...]


class Enroller:
    """Builds profiles; keeps its face and embedding models loaded between enrolments."""

    def __init__(self, config: ScanConfig | None = None, finder: FaceFinder | None = None,
                 embedder: FaceEmbedder | None = None, voice_encoder: VoiceEncoder | None = None) -> None:
        self.config = (config or ScanConfig()).validate()
        self._finder = finder
        self._embedder = embedder or FaceEmbedder()
        self._voice_encoder = voice_encoder or VoiceEncoder()
        self._voice_model: VoiceModel | None = None

    def voice(self, files: Sequence[FileFaces], items: Sequence[FootageItem]) -> VoiceEnrolment:
        """The person's voice from the sound of the videos kept (files left out, photos: none)."""
        audios = []
        for ff, item in zip(files, items):
            audio = None
            left_out = item.note.startswith("left out")
            if ff.info is not None and ff.info.kind == "video" and ff.info.has_audio and not left_out:
                try:
                    audio = read_audio(ff.path, end_s=MAX_FULL_READ_S)
                except InputError:
                    audio = None
            audios.append(audio)
        if self._voice_model is None:
            self._voice_model = VoiceModel.load()
        return build_voice(audios, self._voice_encoder, self._voice_model)

    @property
    def finder(self) -> FaceFinder:
        if self._finder is None:
            self._finder = FaceFinder(self.config.faces)
        self._finder.load()
        return self._finder

    @property
    def embedder(self) -> FaceEmbedder:
        self._embedder.load()
        return self._embedder

    def _median_embedding(self, tr: FaceTrack, n: int) -> npt.NDArray[np.float32] | None:
        embs = [v for _, v in self.embedder.embed_many(evenly_spaced(tr.with_landmarks, n))]
        return np.median(np.stack(embs), axis=0) if embs else None

    def enroll(self, name: str, paths: Sequence[str | Path], progress: Progress | None = None,
               now: _dt.datetime | None = None, names: Sequence[str] | None = None) -> Enrolment:
        """Build a profile for ``name`` from ``paths``; ``EnrolmentError`` when the footage cannot support one.

        ``names``: what to call each file in the profile, the lines and the messages (default: its
        file name), e.g. the names a client uploaded files under when the server stores them as ``0``, ``1``.
        """
        name = check_name(name)
        if not paths:
            raise EnrolmentError("enrolment needs at least one video or photo of the person")
        if names is not None and len(names) != len(paths):
            raise ValueError(f"{len(names)} names for {len(paths)} files")
        say: Progress = progress or (lambda what, done: None)
        files: list[FileFaces] = []
        n = len(paths)
        for i, p in enumerate(paths):
            shown = names[i] if names is not None else Path(p).name
            say(f"reading {shown}", i / n * 0.7)
            ff = read_file_faces(p, self.finder, self.config)
            ff.name = shown
            if ff.info is not None:
                for tr in usable_tracks(ff):
                    med = self._median_embedding(tr, ANCHOR_EMBEDDINGS)
                    if med is not None:
                        ff.candidates.append((tr, med))
            files.append(ff)
        say("choosing the person's face", 0.72)
        anchor, notes = self._person_anchor(files)
        items: list[FootageItem] = []
        embs: list[npt.NDArray[np.float32]] = []
        emb_src: list[int] = []
        wins: list[npt.NDArray[np.float32]] = []
        win_src: list[int] = []
        lines: list[str] = []
        for k, ff in enumerate(files):
            say(f"measuring {ff.name}", 0.72 + 0.28 * k / n)
            item, e, w, line = self._file_footage(ff, anchor, notes.get(k, ""))
            items.append(replace(item, name=ff.name))
            for v in e:
                embs.append(v)
                emb_src.append(k)
            for v in w:
                wins.append(v)
                win_src.append(k)
            lines.append(line)
        say("listening to the voice", 0.97)
        voice = self.voice(files, items)
        if voice.profile is None:
            lines.append(f"no voice profile: {voice.line}")
        else:
            lines.append(voice.line)
            lines = [f"{ln}, {note}" if note.endswith("of speech") else ln
                     for ln, note in zip(lines, voice.file_notes)] + lines[len(voice.file_notes):]
        say("done", 1.0)
        face_video_s = sum(i.face_s for i in items if i.kind != "image")
        missing = []
        if len(embs) < MIN_EMBEDDINGS:
            missing.append(f"{len(embs)} usable face image{'s' if len(embs) != 1 else ''} (needs {MIN_EMBEDDINGS})")
        if face_video_s < MIN_FACE_VIDEO_S or len(wins) < 1:
            missing.append(f"{face_video_s:.1f} s of the face in video (needs {MIN_FACE_VIDEO_S:.0f} s, "
                           f"in stretches of at least {WINDOW_S:.0f} s)")
        if missing:
            unread = [f"{ff.name} ({ff.error})" for ff in files if ff.error]
            raise EnrolmentError(f"too little usable footage of {name}: " + " and ".join(missing)
                                  + (f"; could not read {', '.join(unread)}" if unread else "")
                                  + f"; add more or longer footage where the face is in view and at least "
                                    f"{MIN_FACE_PX:.0f} px")
        created = (now or _dt.datetime.now(_dt.UTC)).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        profile = PersonProfile(
            name=name,
            embeddings=np.stack(embs).astype(np.float32),
            windows=np.stack(wins).astype(np.float32),
            settings={"window_s": WINDOW_S, "hop_s": HOP_S, "fps": NOMINAL_FPS, "signals": list(SIGNAL_NAMES),
                      "max_side": self.config.sampling.max_side},
            footage=tuple(items),
            embedding_sources=tuple(emb_src),
            window_sources=tuple(win_src),
            created_at=created,
            unmask_version=__version__,
            voice=voice.profile,
        )
        return Enrolment(profile, tuple(lines))

    def _person_anchor(self, files: list[FileFaces]) -> tuple[npt.NDArray[np.float32] | None, dict[int, str]]:
        """The person's face (median embedding) and, per file index, why it was left out."""
        notes: dict[int, str] = {}
        firsts: list[tuple[int, npt.NDArray[np.float32]]] = []
        for k, ff in enumerate(files):
            if ff.info is None:
                notes[k] = f"left out: {ff.error}"
            elif not ff.candidates:
                notes[k] = f"left out: no face large enough (at least {MIN_FACE_PX:.0f} px) and long enough in view"
            else:
                tr, med = max(ff.candidates, key=lambda c: (len(c[0].with_landmarks), c[0].median_size))
                firsts.append((k, med))
        if not firsts:
            return None, notes
        if len(firsts) == 1:
            return firsts[0][1], notes
        if len(firsts) == 2:
            (ka, a), (kb, b) = firsts
            d = float(np.linalg.norm(a - b))
            if d > SAME_PERSON:
                raise EnrolmentError(
                    f"{files[ka].name} and {files[kb].name} do not show the same person (face distance {d:.2f}; "
                    f"the same person is usually below {SAME_PERSON:.2f}): enrol only footage of one person")
            return np.median(np.stack([a, b]), axis=0), notes
        anchor = np.median(np.stack([m for _, m in firsts]), axis=0)
        for k, med in firsts:
            d = float(np.linalg.norm(med - anchor))
            if d > SAME_PERSON:
                notes[k] = f"left out: its main face does not match the other files (distance {d:.2f})"
        kept = [m for k, m in firsts if k not in notes]
        if not kept:
            raise EnrolmentError("the files do not show one person consistently: enrol only footage of one person")
        return np.median(np.stack(kept), axis=0), notes

    def _file_footage(self, ff: FileFaces, anchor: npt.NDArray[np.float32] | None, note: str
                      ) -> tuple[FootageItem, list[npt.NDArray[np.float32]], list[npt.NDArray[np.float32]], str]:
        name = ff.name
        if ff.info is None:
            return FootageItem(name, "", "unknown", 0.0, 0.0, 0, 0, note), [], [], f"{name}: {note}"
        info = ff.info
        if note or anchor is None:
            why = note or "left out"
            return FootageItem(name, info.sha256, info.kind, info.duration_s, 0.0, 0, 0, why), [], [], f"{name}: {why}"
        mine = [(tr, med) for tr, med in ff.candidates if float(np.linalg.norm(med - anchor)) <= SAME_PERSON]
        if not mine:
            why = "left out: no face here matches the person"
            return FootageItem(name, info.sha256, info.kind, info.duration_s, 0.0, 0, 0, why), [], [], f"{name}: {why}"
        embs: list[npt.NDArray[np.float32]] = []
        wins: list[npt.NDArray[np.float32]] = []
        spans: list[tuple[float, float]] = []
        budget = MAX_EMBEDDINGS_PER_FILE
        for tr, _ in sorted(mine, key=lambda c: -len(c[0].with_landmarks)):
            dur = tr.end_t - tr.start_t
            if info.kind == "image":
                n_emb = 1
            else:
                spans.append((tr.start_t, tr.end_t))
                n_emb = max(ANCHOR_EMBEDDINGS, int(round(dur / EMBED_EVERY_S)))
            n_emb = min(n_emb, budget)
            if n_emb > 0:
                got = [v for _, v in self.embedder.embed_many(evenly_spaced(tr.with_landmarks, n_emb))]
                embs += got
                budget -= len(got)
            if info.kind == "video":
                w = track_windows(track_signals(tr))
                wins += list(w.vectors)
        face_s = _union_s(spans)  # two tracks of the person at once (a mirror, a screen) count once
        item = FootageItem(name, info.sha256, info.kind, info.duration_s, face_s, len(embs), len(wins))
        if info.kind == "image":
            line = f"{name}: photo, {len(embs)} face image"
        else:
            short = "" if wins else f" (no stretch of {WINDOW_S:.0f} s for mannerisms)"
            line = (f"{name}: {face_s:.1f} s of the face in {info.duration_s:.1f} s of video, {len(embs)} face images, "
                    f"{len(wins)} mannerism windows{short}")
        return item, embs, wins, line


def _union_s(spans: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of (start, end) spans."""
    total, end = 0.0, -math.inf
    for a, b in sorted(spans):
        if a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


__all__ = ["Enroller", "Enrolment", "MIN_EMBEDDINGS", "MIN_FACE_VIDEO_S", "enrol_sampling", "read_file_faces",
           "usable_tracks"]
