"""`python -m ardiq`: the same as the `ardiq` command."""

from ardiq.cli import main

raise SystemExit(main())
