"""The scan pipeline: probe → decode (streaming) → faces → analyzers → fusion → report.

Frames are read once and dropped after the face stage; every analyzer sees the
same sampled frames and tracks. A :class:`Scanner` keeps its models loaded, so
scanning many files (batch, bench, service) pays the model start-up once.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from numpy.typing import NDArray

from unmask.analyzers.base import Analyzer
from unmask.analyzers.registry import build_analyzers
from unmask.config import ScanConfig
from unmask.errors import ModelError
from unmask.faces.finder import FaceFinder
from unmask.faces.link import embedding_plan, link_tracks, mean_embeddings
from unmask.fusion import FusionModel, decide
from unmask.media.decode import FrameReader, sample_rate
from unmask.media.prefetch import prefetch
from unmask.media.probe import probe
from unmask.provenance import read_provenance
from unmask.report.attachments import collect_attachments
from unmask.report.build import build_report
from unmask.report.model import Report
from unmask.rules import apply_provenance, apply_rules, cap_for_damage
from unmask.types import AnalyzerResult, FaceTrack, Frame, MediaContext, Need, Person, SampledFrame

if TYPE_CHECKING:
    from unmask.faces.detect import Detection
    from unmask.faces.embed import FaceEmbedder
    from unmask.reference.profile import PersonProfile

#: progress(stage, fraction_done) — fraction in [0, 1] over the whole scan
Progress = Callable[[str, float], None]

DECODE_SHARE = 0.85  # share of the progress bar spent on decode + faces
PREFETCH_FRAMES = 4  # decoded frames kept ready ahead of the face stage (a few MB)
DETECT_AHEAD = 2  # frames whose faces are detected ahead of meshing and tracking


@dataclass
class StageTimer:
    """Wall seconds per stage, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, stage: str, dt: float) -> None:
        self.seconds[stage] = self.seconds.get(stage, 0.0) + dt


class Scanner:
    """Scans media files with one configuration; models load on first use and are reused."""

    def __init__(self, config: ScanConfig | None = None, fusion: FusionModel | None = None,
                 claims: PersonProfile | None = None) -> None:
        """``claims``: the enrolled person the scanned videos are claimed to show (adds the reference check)."""
        self.config = (config or ScanConfig()).validate()
        self._fusion = fusion
        self._analyzers: list[Analyzer] | None = None
        self._finder: FaceFinder | None = None
        self._reference: Analyzer | None = None  # the reference check for ``claims``, built once
        self._reference_model: Any = None  # reference-mode calibration, loaded once for any claim
        self._reference_embedder: Any = None  # dlib embedder for claims when no analyzer brings one
        self._voice_encoder: Any = None  # speaker encoder for claims whose profile has a voice
        self.claims = claims

    @property
    def fusion(self) -> FusionModel:
        if self._fusion is None:
            self._fusion = FusionModel.load()
        return self._fusion

    def load(self) -> None:
        """Load every model now (otherwise the first scan does)."""
        self._analyzers_for(self.claims)
        _ = self.fusion

    def identity(self) -> dict[str, dict[str, str]]:
        """What a saved report must match to stand for a scan now, besides the config digest: each configured
        analyzer's version and the sha256 of the weights it reads (loads the models)."""
        _, analyzers = self._load()
        return {
            "analyzers": {a.name: a.version for a in analyzers},
            "weights": {a.name: sha for a in analyzers if (sha := a.weights_sha256())},
        }

    def _load(self) -> tuple[FaceFinder, list[Analyzer]]:
        """The face finder and the configured analyzers (without the reference check), loaded once."""
        if self._finder is None:
            self._finder = FaceFinder(self.config.faces)
            self._finder.load()
        if self._analyzers is None:
            analyzers = build_analyzers(self.config)
            for a in analyzers:
                a.load()
            self._analyzers = analyzers
        return self._finder, self._analyzers

    def _analyzers_for(self, claims: PersonProfile | None) -> list[Analyzer]:
        """The analyzers one scan runs: the configured ones, plus the reference check when a person is claimed."""
        _, analyzers = self._load()
        if claims is None:
            return analyzers
        if claims is self.claims and self._reference is not None:
            return [*analyzers, self._reference]
        from unmask.analyzers.reference import ReferenceAnalyzer
        from unmask.faces.embed import FaceEmbedder
        from unmask.reference.model import ReferenceModel

        if self._reference_model is None:
            self._reference_model = ReferenceModel.load()
        # share the temporal analyzer's embedder: the same frames are embedded, and paid for, once
        shared = _shared_embedder(analyzers)
        if shared is None:  # no temporal analyzer configured: one embedder of our own, for every claim
            self._reference_embedder = self._reference_embedder or FaceEmbedder()
            shared = self._reference_embedder
        if self._voice_encoder is None:
            from unmask.voice.encoder import VoiceEncoder

            self._voice_encoder = VoiceEncoder()  # loaded once, for every claim with a voice
        ref = ReferenceAnalyzer(claims, model=self._reference_model, embedder=shared, voice_encoder=self._voice_encoder,
                                identity_frames=self.config.identity_frames)
        ref.load()
        if claims is self.claims:
            self._reference = ref
        return [*analyzers, ref]

    def scan(self, path: str | Path, progress: Progress | None = None,
             claims: PersonProfile | None = None, record_path: bool = False) -> Report:
        """Scan one file. Raises :class:`~unmask.errors.InputError` for input that cannot be read.

        ``claims``: the person this file is claimed to show, for this scan only (default: the
        Scanner's own ``claims``); the loaded models are reused, so a service can check each
        upload against a different person without reloading anything. The report names the file
        by its name only, so it can be shared; ``record_path`` records its full path instead.
        """
        claims = claims if claims is not None else self.claims
        report_progress: Progress = progress or (lambda stage, done: None)
        timer = StageTimer()
        t_start = time.perf_counter()
        ctx, warnings = self.context(path, report_progress, timer)
        analyzers = self._analyzers_for(claims)

        results: list[AnalyzerResult] = []
        with ThreadPoolExecutor(1, thread_name_prefix="unmask-provenance") as side:
            # Content Credentials are read in a limited child process (never raises): it works beside the analyzers
            later = side.submit(read_provenance, path, ctx.info.rotation)
            for i, analyzer in enumerate(analyzers):
                report_progress(analyzer.name, DECODE_SHARE + (1 - DECODE_SHARE) * i / max(len(analyzers), 1))
                t0 = time.perf_counter()
                results.append(run_analyzer(analyzer, ctx))
                timer.add(f"analyzer.{analyzer.name}", time.perf_counter() - t0)
            t0 = time.perf_counter()
            provenance = later.result()
            timer.add("provenance", time.perf_counter() - t0)  # what the scan waited for it

        t0 = time.perf_counter()
        verdict = decide(ctx, results, self.fusion, self.config.gate)
        verdict, rules = apply_rules(verdict, results)
        verdict, damage = cap_for_damage(
            verdict, ctx.decoding, ctx.info.duration_s
        )  # last: a damaged file is never sure
        rules = (*rules, damage) if damage is not None else rules
        timer.add("fusion", time.perf_counter() - t0)
        verdict, declared = apply_provenance(verdict, provenance.credential)  # metadata never moves the verdict
        rules = (*rules, declared) if declared is not None else rules
        timer.add("total", time.perf_counter() - t_start)
        report = build_report(ctx, results, verdict, self.fusion, timer.seconds, warnings, rules=rules,
                              record_path=record_path, provenance=provenance, config_digest=self.config.digest())
        report = replace(report, attachments=collect_attachments(ctx, results, verdict))  # pictures for the HTML report
        report_progress("done", 1.0)
        return report

    def context(self, path: str | Path, progress: Progress | None = None,
                timer: StageTimer | None = None) -> tuple[MediaContext, list[str]]:
        """Probe, decode, find faces and link them into persons: what every analyzer reads, and the reader's
        warnings."""
        timer = timer or StageTimer()
        ctx, warnings = self._faces(path, progress, timer)
        _, analyzers = self._load()
        t0 = time.perf_counter()
        ctx = replace(ctx, persons=self._link(ctx.tracks, analyzers))
        timer.add("link", time.perf_counter() - t0)
        return ctx, warnings

    def _faces(self, path: str | Path, progress: Progress | None, timer: StageTimer
               ) -> tuple[MediaContext, list[str]]:
        """Probe, decode and find faces (not yet linked into persons), and the reader's warnings."""
        report_progress: Progress = progress or (lambda stage, done: None)
        t0 = time.perf_counter()
        info = probe(path, self.config.sampling)
        timer.add("probe", time.perf_counter() - t0)

        finder, _ = self._load()
        finder.reset()
        reader = FrameReader(info, self.config.sampling, follow_faces=True)
        sampled: list[SampledFrame] = []
        # a video read whole takes no feedback from the face stage, so it is decoded ahead on a thread of its
        # own and, with two cores, its faces detected ahead on another (FFmpeg and mediapipe release the GIL,
        # and every frame's detections are the same as in turn); a long video's bursts are cut by what the
        # faces found, so they are read and detected in turn
        frames: Iterator[tuple[Frame, list[Detection] | None]]
        if len(reader.segments) > 1:
            frames = _with_detections(iter(reader), None)
        elif _cores() < 2:
            frames = _with_detections(prefetch(reader, PREFETCH_FRAMES), None)
        else:
            frames = prefetch(_with_detections(prefetch(reader, PREFETCH_FRAMES), finder), DETECT_AHEAD)
        duration = max(info.duration_s, 1e-6)
        try:
            while True:
                t0 = time.perf_counter()
                item = next(frames, None)
                timer.add("decode", time.perf_counter() - t0)  # time spent waiting for the next frame
                if item is None:
                    break
                frame, detections = item
                t0 = time.perf_counter()
                faces = finder.process(frame, detections)
                reader.saw_faces(len(faces))  # a long video's faceless bursts are cut short
                timer.add("faces", time.perf_counter() - t0)
                sampled.append(SampledFrame(frame.index, frame.t, frame.segment, len(faces)))
                report_progress("faces", DECODE_SHARE * min(1.0, frame.t / duration))
                del frame, item, detections
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        for stage, seconds in finder.seconds.items():  # the face stage's parts, for profiles
            timer.add(f"faces_{stage}", seconds)
        ctx = MediaContext(info, tuple(reader.stats), tuple(sampled), finder.tracks(), reader.coverage, (),
                           frame_size=analysed_size(info.width, info.height, self.config.sampling.max_side),
                           sampled_fps=sample_rate(info.duration_s, self.config.sampling))
        return ctx, list(reader.warnings)

    def _link(self, tracks: tuple[FaceTrack, ...], analyzers: list[Analyzer]) -> tuple[Person, ...]:
        """Group the tracks by person (dlib embeddings, geometry where a face is too small or dlib is missing)."""
        from unmask.analyzers.temporal import IDENTITY_TRACKS_PER_VIDEO
        from unmask.faces.embed import FaceEmbedder

        plan = embedding_plan(tracks, self.config.faces, self.config.identity_frames, IDENTITY_TRACKS_PER_VIDEO)
        embeddings: dict[int, NDArray[Any]] = {}
        if any(plan.values()):
            # the temporal analyzer's embedder: it embeds the same observations of a few tracks, paid once
            embedder = _shared_embedder(analyzers)
            if embedder is None:
                self._reference_embedder = self._reference_embedder or FaceEmbedder()
                embedder = self._reference_embedder
            try:
                embeddings = mean_embeddings(tracks, plan, embedder.embed)
            except ModelError:
                embeddings = {}  # no dlib: tracks link by geometry alone
        return link_tracks(tracks, embeddings, self.config.faces.link_max_distance)


def _cores() -> int:
    """Cores this process may use for one scan: those it may run on, at most the compute threads it was given
    (``learned.runtime.THREADS``; a batch worker sharing a machine gets fewer)."""
    from unmask.learned import runtime

    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(available, runtime.THREADS))


def _with_detections(frames: Iterator[Frame], finder: FaceFinder | None
                     ) -> Iterator[tuple[Frame, list[Detection] | None]]:
    """Each frame with its faces' detections, made on the thread that iterates this (a prefetch thread, ahead of
    meshing); None each when ``finder`` is None (``process`` detects). Closing it closes ``frames``."""
    try:
        for f in frames:
            yield f, None if finder is None else finder.detect(f)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # stops the decoding thread when the consumer stops early


def run_analyzer(analyzer: Analyzer, ctx: MediaContext) -> AnalyzerResult:
    """Run one analyzer: ``skipped`` when its needs are missing, ``error`` when it raises."""
    missing = _missing_need(analyzer, ctx)
    if missing:
        return analyzer.skipped(missing)
    try:
        return analyzer.analyze(ctx)
    except Exception as e:  # an analyzer bug must not lose the whole scan; the report says what failed
        return analyzer.failed(e)


def _shared_embedder(analyzers: Sequence[Analyzer]) -> FaceEmbedder | None:
    """The face embedder an analyzer already holds (the temporal one), so the same frames are embedded once."""
    from unmask.faces.embed import FaceEmbedder

    for a in analyzers:
        embedder = getattr(a, "embedder", None)
        if isinstance(embedder, FaceEmbedder):
            return embedder
    return None


def _missing_need(analyzer: Analyzer, ctx: MediaContext) -> str | None:
    if Need.TIME in analyzer.needs and ctx.is_still:
        return "a still image has no motion to check"
    if Need.FACES in analyzer.needs and not ctx.tracks:
        return "no face was found"
    if Need.LANDMARKS in analyzer.needs and not any(t.with_landmarks for t in ctx.tracks):
        return "no face landmarks could be found"
    return None


def analysed_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) of the analysed frames: frames wider than ``max_side`` are downscaled (as the reader does)."""
    k = min(1.0, max_side / max(width, height))
    return max(1, round(width * k)), max(1, round(height * k))


def scan(path: str | Path, config: ScanConfig | None = None, progress: Progress | None = None,
         claims: PersonProfile | None = None) -> Report:
    """Scan one file with a fresh :class:`Scanner` (use a Scanner to scan many)."""
    return Scanner(config, claims=claims).scan(path, progress)
