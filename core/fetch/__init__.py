"""Where papers come from: arXiv's RSS listing, its export API, and local JSONL files."""
