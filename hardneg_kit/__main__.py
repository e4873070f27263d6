"""``python -m hardneg_kit ...``: see :mod:`hardneg_kit.cli`."""

from hardneg_kit.cli import main

raise SystemExit(main())
