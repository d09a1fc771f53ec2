"""Search over evidence: embedding (the only place that embeds), FAISS, BM25, index sync."""
