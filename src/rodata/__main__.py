"""``python -m rodata``."""

from __future__ import annotations

import sys

from rodata.cli import main

sys.exit(main())
