"""`python -m bot`: the same command line as `arxiv-digest` (see bot/cli.py)."""

from __future__ import annotations

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
