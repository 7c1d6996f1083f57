"""``unmask batch``: scan folders, manifests and path lists with a pool of workers, resumably.

See docs/scale-out.md. :func:`expand_inputs` finds the files, :func:`run_batch` scans them
into an output folder (one report per file, ``index.jsonl``, ``index.parquet``, ``summary.json``),
with local worker processes or, given :class:`RayOptions`, actors on a Ray cluster (ray imported only then).
"""

from unmask.batch.index import ResultIndex, write_parquet
from unmask.batch.inputs import BatchInputs, expand_inputs, looks_like_media
from unmask.batch.limits import BatchLimits, BatchProgress, default_workers
from unmask.batch.ray_pool import RayOptions
from unmask.batch.runner import run_batch
from unmask.batch.summary import BatchSummary

__all__ = ["BatchInputs", "BatchLimits", "BatchProgress", "BatchSummary", "RayOptions", "ResultIndex",
           "default_workers", "expand_inputs", "looks_like_media", "run_batch", "write_parquet"]
