"""Scorers: the offline scorer, the LLM scorer and the pure ranking between them."""
