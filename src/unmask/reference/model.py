"""The shipped calibration of reference mode (``models/reference.json``), fitted on real development videos.

It holds what a check needs besides the person's own profile: the population
statistics of mannerism windows (:class:`~unmask.reference.mannerisms.Population`),
and two logistic calibrations that turn raw measurements into probabilities:
identity (from the face-embedding distance) and mannerisms (from the
log-likelihood ratio). Both were fitted on enrol-from-some / check-on-others
pairs of the development set; ``benchmarks/reference_eval.py fit`` rewrites the
file and records its numbers, so a refit is one command.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from unmask.errors import ModelError
from unmask.reference.mannerisms import PAIR_NAMES, Population


@dataclass(frozen=True)
class Logistic:
    """p = 1 / (1 + exp(-(coef * x + intercept)))."""

    coef: float
    intercept: float

    def __call__(self, x: float) -> float:
        z = self.coef * x + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def inverse(self, p: float) -> float:
        """The x at which the probability is ``p``."""
        return (math.log(p / (1 - p)) - self.intercept) / self.coef


@dataclass(frozen=True)
class ReferenceModel:
    identity: Logistic  # on the face distance (dlib units): P(same person)
    mannerisms: Logistic  # on the mannerism log-likelihood ratio: P(moves like the person)
    population: Population
    #: identity P at or above which the face is called the claimed person's
    same_face: float = 0.5
    #: mannerism P below which the clip "does not move like" the person (chosen for <= 5 % of same-person dev checks)
    foreign_mannerisms: float = 0.2
    sha256: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path | None = None) -> ReferenceModel:
        try:
            raw = resources.files("unmask.models").joinpath("reference.json").read_bytes() if path is None \
                else Path(path).read_bytes()
            d = json.loads(raw)
            if list(d["population"]["pairs"]) != list(PAIR_NAMES):
                raise ValueError("population pairs do not match this version's signal pairs")
            pop = Population(np.array(d["population"]["mean"], float), np.array(d["population"]["within_var"], float),
                             np.array(d["population"]["between_var"], float))
            return cls(
                identity=Logistic(float(d["identity"]["coef"]), float(d["identity"]["intercept"])),
                mannerisms=Logistic(float(d["mannerisms"]["coef"]), float(d["mannerisms"]["intercept"])),
                population=pop,
                same_face=float(d["thresholds"]["same_face"]),
                foreign_mannerisms=float(d["thresholds"]["foreign_mannerisms"]),
                sha256=hashlib.sha256(raw).hexdigest(),
                meta={k: v for k, v in d.items() if k not in ("population",)},
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            where = path or "unmask/models/reference.json"
            raise ModelError(f"cannot load the reference-mode calibration {where}: {e}") from None

    def to_dict(self) -> dict[str, Any]:
        return {
            "identity": {"coef": self.identity.coef, "intercept": self.identity.intercept},
            "mannerisms": {"coef": self.mannerisms.coef, "intercept": self.mannerisms.intercept},
            "thresholds": {"same_face": self.same_face, "foreign_mannerisms": self.foreign_mannerisms},
            "population": {"pairs": list(PAIR_NAMES), "mean": self.population.mean.tolist(),
                           "within_var": self.population.within_var.tolist(),
                           "between_var": self.population.between_var.tolist()},
        }


__all__ = ["Logistic", "ReferenceModel"]
