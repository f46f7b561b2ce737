#!/usr/bin/env node
// Oracle for npmaudit's yarn.lock reader: after yarn itself has installed a project into
// node_modules (classic, or berry with nodeLinker: node-modules), read that installed tree the way
// npm does (@npmcli/arborist loadActual, which runs npm's calcDepFlags) and print every package node
// with its dependency groups as JSON on stdout.
//
// Usage: node yarn_installed_dump.js <project-dir>
// The arborist is the one bundled with the npm on PATH, or the directory in NPM_ARBORIST.
'use strict'
const { execSync } = require('node:child_process')
const path = require('node:path')

const arboristDir = process.env.NPM_ARBORIST ||
  path.join(execSync('npm root -g', { encoding: 'utf8' }).trim(), 'npm', 'node_modules', '@npmcli', 'arborist')
const Arborist = require(arboristDir)

const main = async () => {
  const dir = path.resolve(process.argv[2])
  const tree = await new Arborist({ path: dir }).loadActual()
  // Bundled dependencies live inside their parent's tarball and are not in yarn.lock: take them out
  // of the tree and let npm compute the groups again on what the lockfile describes.
  const bundled = [...tree.inventory.values()].filter((node) => node.inBundle)
  if (bundled.length) {
    for (const node of bundled) node.root = null
    for (const node of tree.inventory.values()) {
      if (node === tree) continue
      node.dev = node.optional = node.devOptional = node.peer = true
    }
    require(path.join(arboristDir, 'lib', 'calc-dep-flags.js'))(tree)
  }
  const nodes = []
  for (const node of tree.inventory.values()) {
    if (node.isRoot || node.isLink) continue
    nodes.push({
      location: node.location,
      name: node.packageName || '',
      version: node.version || '',
      dev: !!node.dev,
      optional: !!node.optional,
      devOptional: !!(node.devOptional && !node.dev && !node.optional),
      peer: !!node.peer,
      workspace: !!node.isWorkspace,
      extraneous: !!node.extraneous,
    })
  }
  nodes.sort((a, b) => (a.location < b.location ? -1 : a.location > b.location ? 1 : 0))
  process.stdout.write(JSON.stringify(nodes) + '\n')
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error) + '\n')
  process.exit(1)
})
