"""``python -m rmbench.cli``."""

from rmbench.cli.commands import main

main()
