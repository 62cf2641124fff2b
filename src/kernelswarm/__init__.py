"""kernelswarm: faster PyTorch modules from generated kernels, judged so the numbers hold up.

Kept import-free: the sandboxed worker imports this package and must pull in nothing but the
standard library, torch and numpy.
"""

__version__ = "0.1.0"
