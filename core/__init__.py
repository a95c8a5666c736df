"""arxiv-digest core: fetch, score, store and lay out each day's arXiv papers. No chat platform lives here."""
