"""Showing results to people: the terminal (``console``) and the run's HTML report."""
