"""`qualia eval`: a matrix of model sets × scenarios × players × seeds, judged and reported."""
