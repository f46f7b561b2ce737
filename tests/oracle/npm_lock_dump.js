#!/usr/bin/env node
// Oracle for npmaudit's npm lockfile reader: load a project the way npm itself does
// (@npmcli/arborist loadVirtual, the code behind `npm ls --package-lock-only` and `npm audit`)
// and print every node of the tree with its edges as JSON on stdout.
//
// Usage: node npm_lock_dump.js <project-dir>
// The arborist used is the one bundled with the npm on PATH (`npm root -g`/npm/...), or the
// directory given in NPM_ARBORIST.
//
// Normalisation, so the output means what npmaudit's model means:
// - devOptional: arborist keeps "devOptional" true on dev and on optional nodes when it reads
//   flags from a lockfile and clears it there when it recomputes them; npmaudit's dev_optional
//   is the lockfile's meaning (needed by dev and optional parts, by no prod path), so we print
//   devOptional && !dev && !optional.
// - edge type "workspace" (root -> workspace member) is printed as "prod": it behaves as prod in
//   calcDepFlags, and npmaudit's model has no separate kind for it. Its spec, "file:<absolute
//   path>" in arborist, is printed relative to the project ("file:packages/w").
// - edge specs are the declared ones (edge.rawSpec), not the ones root "overrides" replace them
//   with (edge.spec): the lockfile records the declared spec.
'use strict'
const { execSync } = require('node:child_process')
const path = require('node:path')

const arboristDir = process.env.NPM_ARBORIST ||
  path.join(execSync('npm root -g', { encoding: 'utf8' }).trim(), 'npm', 'node_modules', '@npmcli', 'arborist')
const Arborist = require(arboristDir)

const main = async () => {
  const dir = path.resolve(process.argv[2])
  const arb = new Arborist({ path: dir })
  const tree = await arb.loadVirtual()
  const nodes = []
  for (const node of tree.inventory.values()) {
    const edges = []
    for (const edge of node.edgesOut.values()) {
      let spec = edge.rawSpec
      if (edge.type === 'workspace' && spec.startsWith('file:')) {
        spec = 'file:' + path.relative(dir, spec.slice(5)).replace(/\\/g, '/')
      }
      edges.push([edge.name, spec, edge.type === 'workspace' ? 'prod' : edge.type,
        edge.to ? edge.to.location : null])
    }
    edges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    nodes.push({
      location: node.location,
      name: node.packageName || '',
      version: node.version || '',
      dev: !!node.dev,
      optional: !!node.optional,
      devOptional: !!(node.devOptional && !node.dev && !node.optional),
      peer: !!node.peer,
      link: !!node.isLink,
      target: node.isLink && node.target ? node.target.location : null,
      inBundle: !!node.inBundle,
      edges,
    })
  }
  nodes.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0))
  process.stdout.write(JSON.stringify({ lockfileVersion: arb.virtualTree.meta.originalLockfileVersion, nodes }))
}

main().catch(er => {
  process.stderr.write(`${er.stack || er}\n`)
  process.exit(1)
})
