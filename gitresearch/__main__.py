"""`python -m gitresearch` runs the command line."""

from gitresearch.cli import main

main()
