"""build: a reader's digest from prepared data, as neutral blocks and Markdown (pure, no IO)."""
