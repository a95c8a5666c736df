"""score: every scorer (offline, LLM, embeddings), interest profiles, summaries and vote feedback."""
