"""pnpm lockfile reader."""
