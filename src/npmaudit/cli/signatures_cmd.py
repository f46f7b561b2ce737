"""`npmaudit signatures`: registry signatures and provenance attestations of a lockfile's packages."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from npmaudit import TYPE_CHECKING
from npmaudit.cli import summary
from npmaudit.settings import OMIT_GROUPS

if TYPE_CHECKING:
    from npmaudit.trust.trusted_root import TrustedRoot

DESCRIPTION = """\
Verify, for every registry package of the lockfile (no node_modules needed), what its registry says:
the lockfile's integrity against the registry's (a difference is tampering, reported first), the
registry's ECDSA signatures over name@version:integrity with the keys of <registry>/-/npm/v1/keys (each
package from its own registry, scoped registries and credentials from .npmrc; a key must be valid at the
version's publish time), and dist.attestations: the SLSA provenance and the registry's publish
attestation (subject, signature, certificate chain, transparency log). A version without the provenance
its predecessor had is a provenance regression. One package's failure never stops the run.

Attestations are anchored in the Sigstore trusted root: --trusted-root (or [signatures] trusted-root),
else the current root from Sigstore's TUF repository when the npmaudit[sigstore] extra is installed;
without either, their signatures are still checked and the packages are listed as "unanchored".

Outcomes that fail the run (--fail-on, [signatures] fail-on; default: integrity-mismatch, invalid,
missing, expired-key, unknown-key, not-found, attestation-invalid):
  integrity-mismatch invalid missing expired-key unknown-key not-found attestation-invalid
  provenance-regression unanchored no-keys   (or "none")

exit codes: 0 passed, 1 a failing outcome (or nothing could be verified), 2 input/usage error,
3 a registry could not be queried (its packages are listed as unchecked).
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "signatures",
        help=summary("signatures"),
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", nargs="?", default=".", help="project directory or lockfile (default: .)")
    parser.add_argument("--lockfile", type=Path, metavar="PATH", help="read this lockfile instead of detecting one")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="report format (default text)")
    parser.add_argument("--registry", metavar="URL", help="the default registry (overrides .npmrc)")
    parser.add_argument(
        "--omit", action="append", choices=OMIT_GROUPS, help="leave a dependency group out (repeatable)"
    )
    parser.add_argument("--fail-on", metavar="OUTCOMES", help="comma-separated outcomes that fail the run")
    parser.add_argument(
        "--trusted-root", type=Path, metavar="PATH", help="a Sigstore trusted_root.json to anchor attestations"
    )
    parser.add_argument("--no-provenance", action="store_true", help="do not fetch or verify attestations")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="per-request timeout (env NPMAUDIT_TIMEOUT)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from npmaudit.advisories.selection import http_settings, npm_config
    from npmaudit.cli.progress import progress_for
    from npmaudit.cli.settings import config_for, no_color, resolve_settings
    from npmaudit.errors import EXIT_FINDINGS, EXIT_OK, EXIT_SOURCE
    from npmaudit.http import HttpClient
    from npmaudit.project.loader import load_project
    from npmaudit.trust.attestations import sigstore_check
    from npmaudit.trust.registry_data import RegistryData
    from npmaudit.trust.render_signatures import render_json, render_text
    from npmaudit.trust.signatures import DEFAULT_FAIL_ON, Anchor, SignatureOptions, check_signatures
    from npmaudit.trust.signatures_config import parse_fail_on, parse_signatures_table
    from npmaudit.trust.trusted_root import load_trusted_root, sigstore_production_root

    path = Path(args.path)
    config_file = config_for(path)
    table = parse_signatures_table(config_file.get("signatures"), config_file.path)
    settings = resolve_settings(args, config=config_file)
    fail_on = parse_fail_on(args.fail_on, "--fail-on") if args.fail_on else table.get("fail_on", DEFAULT_FAIL_ON)
    provenance = not args.no_provenance and table.get("provenance", True)
    project = load_project(path, args.lockfile)
    npmrc = npm_config(settings)
    root_file = args.trusted_root or table.get("trusted_root")

    def anchor() -> Anchor:
        if root_file is not None:
            return Anchor(load_trusted_root(root_file), sigstore_check(root_file.read_text("utf-8")), str(root_file))
        production = _production_root(sigstore_production_root)
        if production is None:
            return Anchor()
        root, document = production
        return Anchor(root, sigstore_check(document), "Sigstore public-good TUF repository (npmaudit[sigstore])")

    if provenance and root_file is not None:
        load_trusted_root(root_file)  # a bad --trusted-root is an input error before any request
    options = SignatureOptions(omit=settings.omit, provenance=provenance, anchor=anchor, fail_on=fail_on)
    client = HttpClient("registry", http_settings(settings), npmrc)
    data = RegistryData(client, settings.cache_dir / "trust")
    progress = progress_for(enabled=args.format == "text", no_color=no_color())
    with client:
        report = check_signatures(project, data, npmrc.registry_for, options, progress)
    sys.stdout.write(render_json(report) if args.format == "json" else render_text(report))
    if report.unchecked:
        print(
            f"npmaudit: error: {len(report.unchecked)} packages could not be checked: {report.unchecked[0].error}",
            file=sys.stderr,
        )
        return EXIT_SOURCE
    if report.failed:
        return EXIT_FINDINGS
    if report.nothing_verifiable:
        print(
            "npmaudit: error: found no dependencies to audit that were installed from a supported registry",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    return EXIT_OK


def _production_root(load: Callable[..., tuple[TrustedRoot, str] | None]) -> tuple[TrustedRoot, str] | None:
    """The current public-good root (refreshed over TUF), else the extra's cached copy; None without it."""
    import logging

    logging.getLogger("sigstore").setLevel(logging.ERROR)  # its offline-mode notice is not ours to print
    try:
        return load(offline=False)
    except Exception:  # no network to the TUF repository: the copy the extra keeps
        try:
            return load(offline=True)
        except Exception:
            return None
