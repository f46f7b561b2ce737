"""``python -m npmaudit`` runs the command line."""

from npmaudit.cli import run

run()
