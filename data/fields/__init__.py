"""The shipped default fields (*.toml), package data `arxiv_digest_data.fields` (see pyproject.toml)."""
