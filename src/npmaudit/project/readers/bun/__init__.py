"""bun lockfile reader."""
