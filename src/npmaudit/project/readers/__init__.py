"""One sub-package per ecosystem; each exposes a reader module with ``read(path) -> Project``."""
