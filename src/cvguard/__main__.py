"""``python -m cvguard`` runs the command line."""

from cvguard.cli import main

main()
