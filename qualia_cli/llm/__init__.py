"""Model access: one async interface over OpenAI-compatible endpoints and the embedded model."""
