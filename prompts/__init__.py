"""The prompt templates (*.md), shipped as the package data `arxiv_digest_data.prompts` (see pyproject.toml)."""
