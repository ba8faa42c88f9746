"""gitresearch: a git-native patch-search agent for research code.

The package is a headless core (configuration, boundaries, validation, search) with thin
front-ends (the click command line now, the Textual review later) on top of it.
"""

__version__ = "0.1.0"
