"""Memory that keeps long stories coherent: context builder, lorebook, recall, summarizer."""
