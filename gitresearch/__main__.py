"""`python -m gitresearch` runs the command line."""

from gitresearch.cli.main import main

main()
