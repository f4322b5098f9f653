"""python -m fusedrnn: see cli.py."""

from .cli import main

raise SystemExit(main())
