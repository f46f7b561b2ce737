"""yarn lockfile reader."""
