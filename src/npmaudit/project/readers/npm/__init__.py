"""npm lockfile reader."""
