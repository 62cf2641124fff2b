"""Showing results to people: the terminal (``console``) and, later, HTML reports."""
