"""Hidden graders: one file per graded name, one function per case, points declared beside it."""
