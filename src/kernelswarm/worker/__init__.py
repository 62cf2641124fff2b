"""The worker process: where problem code and untrusted candidate code run.

It imports only the standard library, torch and numpy, and it never decides a verdict: it
reports raw outputs and facts over a private channel, and the judge, in another process, decides.
"""
