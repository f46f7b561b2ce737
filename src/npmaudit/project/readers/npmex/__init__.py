"""npmex lockfile reader."""
