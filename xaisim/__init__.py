"""xaisim: do different vision models explain their decisions alike?"""

__version__ = "0.1.0"
