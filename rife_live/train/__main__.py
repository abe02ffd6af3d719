"""``python -m rife_live.train`` is ``rife-train``; so ``torchrun ... -m rife_live.train ARGS`` launches it."""

import sys

from rife_live.cli import train_main

sys.exit(train_main())
