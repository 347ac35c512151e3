"""The turn: plan (Director), reply (Partner, streamed), record (one transaction), extras
(Visual Director, Strategist, Summarizer), with agent calls, state deltas, summary and trace."""
