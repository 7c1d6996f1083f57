"""What a worker process needs, whoever drives it: the service's pool or the batch runner.

Modules: ``engine`` (the seam to the scanner and the enroller: ``ScanEngine``, ``ScannerEngine``)
and ``child`` (a worker process's start: die with the parent, cap threads, load the engine).
Below ``unmask.service`` and ``unmask.batch``, which never import each other.
"""

from unmask.workers.engine import EngineFactory, Progress, ScanEngine, ScannerEngine

__all__ = ["EngineFactory", "Progress", "ScanEngine", "ScannerEngine"]
