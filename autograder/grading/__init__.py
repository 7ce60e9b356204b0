"""Grading a notebook: reading it, running its checks, and the grade it gets."""
