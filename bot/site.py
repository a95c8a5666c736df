"""`arxiv-digest site` and the site `serve` keeps fresh: load every stored day, render, write the files.

What a page or feed holds is core's (core/build/site.py, pure); this module only reads the store through
core/views.py and writes files, each atomically and only when its bytes changed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from core.build.site import render_site, site_summary
from core.errors import ConfigError
from core.models import Digest
from core.services import Services
from core.views import build_day_digest

log = logging.getLogger(__name__)


async def load_site_digests(services: Services, lang: str) -> list[Digest]:
    """Each stored day's own digest (every field, MIN_SCORE) in `lang`, oldest first."""
    digests = []
    for day in await services.store.run_days():
        digest = await build_day_digest(services, day, lang=lang, min_score=services.settings.min_score)
        if digest is not None:
            digests.append(digest)
    return digests


def write_files(out: Path, files: Mapping[str, bytes]) -> int:
    """Write each file under `out` (atomically, by rename) unless it already holds those bytes; count writes."""
    written = 0
    for name, data in files.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_bytes() == data:
            continue
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written += 1
    return written


async def build_site(services: Services, out: Path, *, lang: str, base_url: str = "") -> str:
    """Render the site from the store into `out`; return a one-line summary."""
    digests = await load_site_digests(services, lang)
    files = render_site(digests, services.fields, lang=lang, timezone=services.settings.digest_timezone,
                        base_url=base_url)
    written = await asyncio.to_thread(write_files, out, files)  # serve's event loop keeps answering meanwhile
    return f"site: {site_summary(files)} in {out} ({written} files changed)"


async def cmd_site(services: Services, args: argparse.Namespace) -> int:
    lang = args.lang or services.settings.digest_language
    if args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out}: is a file, not a folder")
    print(await build_site(services, args.out, lang=lang, base_url=args.base_url or ""))
    return 0
