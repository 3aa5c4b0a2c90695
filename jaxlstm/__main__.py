"""``python -m jaxlstm`` is the ``jaxlstm`` command."""

from jaxlstm.cli import main

raise SystemExit(main())
