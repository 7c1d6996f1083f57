"""mediapipe's legacy solutions (face detection, face mesh), imported without what they do not need.

``import mediapipe`` runs ``mediapipe/__init__.py``, which imports every solution, their drawing helpers
(matplotlib.pyplot) and the Tasks API (audio, sounddevice): 0.7 s of a 0.9 s import, none of it used here.
:func:`solution` imports ``mediapipe.python.solutions.<name>`` with the two package ``__init__`` files that
pull those in left unrun; the modules it loads, the graphs and the models are mediapipe's own, unchanged.
Where mediapipe is already imported (by other code in the process), its modules are used as they are.

A graph's options are protos that Python must have registered when the graph is built, else they are
dropped: built with only ``face_detection`` imported, the detector loses its non-max-suppression options
(``non_max_suppression_calculator_pb2`` comes with ``face_mesh``) and returns 2-3 overlapping boxes per face,
which moves verdicts (0.59 -> 0.52 on a dev file). So every solution module that ``mediapipe.python.solutions``
imports is imported first, as mediapipe's own ``__init__`` does (0.06 s), all but the two drawing helpers.
"""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.util import find_spec, module_from_spec
from types import ModuleType

#: packages whose ``__init__`` imports more than the face solutions need (outermost first)
_HEAVY_PACKAGES = ("mediapipe", "mediapipe.python.solutions")
#: what ``mediapipe/python/solutions/__init__.py`` (0.10.21) imports, less ``drawing_styles`` and ``drawing_utils``
_SOLUTIONS = ("face_detection", "face_mesh", "face_mesh_connections", "hands", "hands_connections", "holistic",
              "objectron", "pose", "selfie_segmentation")


def solution(name: str) -> ModuleType:
    """``mediapipe.python.solutions.<name>`` (e.g. ``face_detection``); raises ImportError without mediapipe."""
    if name not in _SOLUTIONS:
        raise ValueError(f"unknown mediapipe solution {name!r}")
    for package in _HEAVY_PACKAGES:
        if package not in sys.modules:
            _register_without_init(package)
    for other in _SOLUTIONS:  # before any graph is built: the protos they register change the graphs' results
        import_module(f"mediapipe.python.solutions.{other}")
    return import_module(f"mediapipe.python.solutions.{name}")


def _register_without_init(package: str) -> None:
    """Put ``package`` in ``sys.modules`` as an empty package, so its submodules import without its ``__init__``."""
    spec = find_spec(package)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{package} is not an installed package")
    sys.modules[package] = module_from_spec(spec)
