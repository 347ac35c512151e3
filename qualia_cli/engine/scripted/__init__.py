"""For scripted playthroughs and evals: cassettes, the judge, the simulated player."""
