"""``python -m durable_testing.lint PATH...``."""

from durable_testing.lint import main

raise SystemExit(main())
