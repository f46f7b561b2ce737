"""Trust in what a lockfile installs: offline lockfile verification (``npmaudit verify``) and registry
signatures and provenance attestations (``npmaudit signatures``).

``verify`` reads the lockfile (and package.json, and node_modules when present) and nothing else: a
deterministic CI gate. ``signatures`` asks each package's registry for its keys and packuments and checks
the registry's ECDSA signatures and the Sigstore attestations. Both return values; ``npmaudit.cli`` prints.
"""
