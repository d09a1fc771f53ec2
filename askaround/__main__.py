"""``python -m askaround`` runs the CLI."""

from askaround.cli import main

main()
