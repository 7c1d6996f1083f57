"""The analyzer interface: one required method, ``analyze``.

An analyzer reads a :class:`~unmask.types.MediaContext` (media facts, every
frame's cheap stats, face tracks with crops and landmarks) and returns an
:class:`~unmask.types.AnalyzerResult`: a 0..1 suspicion and fusion features
per face track, evidence located in time, and an explanation in plain words.
It never needs training. Heavy models load in :meth:`load`, once, lazily.
The pipeline marks an analyzer ``skipped`` when its ``needs`` are missing and
``error`` (with the message) when it raises; fusion uses what ran.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, TypedDict, TypeVar

from unmask.types import AnalyzerResult, Evidence, Heatmap, MediaContext, Need, TrackScore, split_feature

if TYPE_CHECKING:
    from typing import Self

    from unmask.config import ScanConfig

T = TypeVar("T")


def flagged_spans(rows: Sequence[T], time_of: Callable[[T], float], score_of: Callable[[T], float],
                  level: float, max_gap_s: float) -> list[list[T]]:
    """Group time-ordered rows scoring at least ``level`` into spans; a gap over ``max_gap_s`` starts a new span.

    Evidence is reported per span ("3.2–4.8 s"), not per frame, so a reader sees where to look.
    """
    spans: list[list[T]] = []
    for r in rows:
        if score_of(r) < level:
            continue
        if spans and time_of(r) - time_of(spans[-1][-1]) <= max_gap_s:
            spans[-1].append(r)
        else:
            spans.append([r])
    return spans


class Analyzer(ABC):
    name: ClassVar[str]
    version: ClassVar[str]
    needs: ClassVar[frozenset[Need]] = frozenset({Need.FACES})
    #: one sentence: what the analyzer checks, for reports
    checks: ClassVar[str] = ""
    #: plain words for each feature (base name, without the ``_med``/``_p90``/``_p10`` suffix), so the
    #: verdict can say which measurement pushed the score, e.g. "left/right eye openness correlation"
    feature_words: ClassVar[dict[str, str]] = {}
    #: which way each feature (base name) moves when the face was manipulated, by the analyzer's own
    #: reasoning: +1 higher is more suspicious, -1 lower is. The fusion's learned weights are held to
    #: these signs (``unmask_training.fusion_fit``), so a cue cannot be learned backwards from how the
    #: development set happens to be made up; features not listed may take either sign.
    suspect_when: ClassVar[dict[str, int]] = {}

    @classmethod
    def direction(cls, feature: str) -> int:
        """+1, -1 or 0 (either way) for a feature, with or without its ``_med``/``_p90``/``_p10`` suffix."""
        return cls.suspect_when.get(split_feature(feature)[0], 0)

    @classmethod
    def describe_feature(cls, feature: str) -> tuple[str, str]:
        """Plain words for one feature and how it was aggregated over frames.

        ``sharp_ratio_p10`` → ("sharpness inside the face relative to ...", "at its lowest").
        """
        base, how = split_feature(feature)
        return cls.feature_words.get(base, base.replace("_", " ")), how

    @classmethod
    def from_config(cls, config: ScanConfig) -> Self:
        """The analyzer with the settings it reads from ``config`` (most read none), given once when it is built,
        so ``analyze`` reads only the media's facts."""
        return cls()

    def load(self) -> None:  # noqa: B027  # optional hook: most analyzers load nothing
        """Load heavy models. Called once before the first ``analyze``; default: nothing."""

    def weights_sha256(self) -> str | None:
        """sha256 of the trained weights this analyzer reads (None: it reads none), so a report names the
        exact model behind its verdict and a saved report is not reused after the weights change."""
        return None

    @abstractmethod
    def analyze(self, ctx: MediaContext) -> AnalyzerResult:
        """Score every face track in ``ctx``."""

    # Helpers so analyzers build results the same way.
    def ok(
        self,
        tracks: list[TrackScore] | tuple[TrackScore, ...],
        evidence: list[Evidence] | tuple[Evidence, ...],
        explanation: str,
        video_features: dict[str, float] | None = None,
        heatmaps: list[Heatmap] | tuple[Heatmap, ...] = (),
    ) -> AnalyzerResult:
        ev = tuple(sorted(evidence, key=lambda e: -e.strength))
        return AnalyzerResult(self.name, self.version, "ok", explanation, tuple(tracks), ev, dict(video_features or {}),
                              heatmaps=tuple(heatmaps), **self.handover())

    def skipped(self, reason: str) -> AnalyzerResult:
        return AnalyzerResult(self.name, self.version, "skipped", f"Not run: {reason}.", reason=reason,
                              **self.handover())

    def failed(self, error: Exception) -> AnalyzerResult:
        """The result of an ``analyze`` that raised: the report says what failed, the scan goes on."""
        msg = f"{type(error).__name__}: {error}"
        return AnalyzerResult(self.name, self.version, "error", f"Failed: {msg}", reason=msg, **self.handover())

    def handover(self) -> HandOver:
        """What every result carries for the report besides the findings: checks, feature words, weights."""
        return {"checks": self.checks, "feature_words": dict(self.feature_words),
                "weights_sha256": self.weights_sha256()}


class HandOver(TypedDict):
    checks: str
    feature_words: dict[str, str]
    weights_sha256: str | None
