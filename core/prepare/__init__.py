"""prepare a reader: every LLM step a reader needs (interests, summaries), done once before building."""
