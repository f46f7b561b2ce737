#!/usr/bin/env node
// Oracle for npmaudit.project.npm_workspaces: which lockfile folder keys npm's own
// @npmcli/map-workspaces (mapWorkspaces.virtual, the copy bundled with the npm on PATH) takes as
// workspaces for each of a few hand-picked `workspaces` declarations.
// Usage: node npm_map_workspaces.js > tests/fixtures/lockfiles/npm/map-workspaces.json
'use strict'
const path = require('node:path')
const { execSync } = require('node:child_process')

const mapWorkspaces = require(path.join(execSync('npm root -g', { encoding: 'utf8' }).trim(), 'npm',
  'node_modules', '@npmcli', 'map-workspaces'))
const keys = ['', 'packages/a', 'packages/b', 'packages/b/sub', 'packages/.hidden', 'tools/x', 'tools/y',
  'node_modules/a', 'packages/a/node_modules/z', 'docs', 'apps/web', 'apps/api', 'apps/legacy']
const declarations = [
  ['packages/*'], ['packages/**'], ['./packages/*', 'docs'], ['packages/*', '!packages/b'],
  ['apps/{web,api}'], ['apps/*', '!apps/legacy'], ['tools/?'], ['apps/*', '!apps/*', 'apps/web'],
  { packages: ['tools/*'] }, [],
]
const cases = []
for (const workspaces of declarations) {
  const packages = {}
  for (const key of keys) {
    packages[key] = {}
  }
  packages[''].workspaces = workspaces
  const found = mapWorkspaces.virtual({ cwd: '/p', lockfile: { packages } })
  cases.push({ workspaces, folders: [...found.values()].map(v => path.relative('/p', v)).sort() })
}
process.stdout.write(JSON.stringify({ keys, cases }, null, 1) + '\n')
