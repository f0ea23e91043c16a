"""``python -m nllkit``: the same as the ``nllkit`` command."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
