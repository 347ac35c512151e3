"""A story: the session a front end plays, its tree of turns (rewind, branch, alternatives),
its options and its opening (start state, greetings)."""
