"""What an LLM endpoint accepts, and which JSON mode scored each paper.

The tables and their migration (version 5) are in core/store/tables.py and legacy.py; this module owns the queries
over them. `llm_capabilities` remembers, per base URL and model, the JSON mode the endpoint accepted
(core/score/jsonmode.py finds it), so a restart does not probe again; `json_modes` records, per paper
and scorer key, the JSON mode of the reply that gave the paper its LLM score. It must not decide which
mode to try.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime

from core.store.base import StoreBase
from core.store.rows import iso


class CapabilityQueries(StoreBase):
    async def get_json_mode(self, base_url: str, model: str) -> str | None:
        """The JSON mode remembered for `model` at `base_url`, or None when none is."""
        row = await self._one(
            "SELECT json_mode FROM llm_capabilities WHERE base_url = ? AND model = ?", (base_url, model),
        )
        return str(row["json_mode"]) if row else None

    async def save_json_mode(self, base_url: str, model: str, json_mode: str, now: datetime) -> None:
        """Remember that `model` at `base_url` accepted `json_mode` (replacing what was remembered)."""
        await self._run(
            "INSERT INTO llm_capabilities (base_url, model, json_mode, checked_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (base_url, model) DO UPDATE SET json_mode = excluded.json_mode,"
            " checked_at = excluded.checked_at",
            (base_url, model, json_mode, iso(now)),
        )

    async def save_json_modes(self, scorer_key: str, modes: Mapping[str, str], now: datetime) -> None:
        """Record the JSON mode (value) that scored each paper (key) under `scorer_key`."""
        await self._executemany(
            "INSERT INTO json_modes (arxiv_id, scorer_key, json_mode, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (arxiv_id, scorer_key) DO UPDATE SET json_mode = excluded.json_mode,"
            " created_at = excluded.created_at",
            [(arxiv_id, scorer_key, mode, iso(now)) for arxiv_id, mode in modes.items()],
        )

    async def json_modes_of(self, scorer_key: str, ids: Sequence[str]) -> dict[str, str]:
        """The JSON mode that scored each of `ids` under `scorer_key` (papers without an LLM score are absent)."""
        rows = await self._select_in(
            "SELECT arxiv_id, json_mode FROM json_modes WHERE scorer_key = ? AND arxiv_id IN ({ids})",
            ids, (scorer_key,),
        )
        return {row["arxiv_id"]: row["json_mode"] for row in rows}

    async def json_mode_counts(self, scorer_key: str, ids: Sequence[str]) -> Counter[str]:
        """How many of `ids` each JSON mode scored under `scorer_key`."""
        return Counter((await self.json_modes_of(scorer_key, ids)).values())
