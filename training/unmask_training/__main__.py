"""``python -m unmask_training ...``: the same as ``unmask-train ...``."""

import sys

from unmask_training.cli import main

sys.exit(main())
