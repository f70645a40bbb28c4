"""``python -m rtdecode``: the command line, as the ``rtdecode`` script runs it."""

from rtdecode.cli import main

main()
