#!/usr/bin/env node
// Oracle for npmaudit.project.npm_spec.spec_type: the type npm-package-arg (the copy bundled with
// the npm on PATH) gives each spec, resolved for a package named "x" in /tmp/p.
// Usage: node npa_spec_types.js specs.json > tests/fixtures/lockfiles/npm/npa-spec-types.json
// where specs.json is a JSON array of spec strings.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { execSync } = require('node:child_process')

const npa = require(path.join(execSync('npm root -g', { encoding: 'utf8' }).trim(), 'npm', 'node_modules',
  'npm-package-arg'))
const specs = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
const out = {}
for (const spec of specs) {
  try {
    out[spec] = npa.resolve('x', spec, '/tmp/p').type
  } catch (er) {
    out[spec] = `error ${er.code}`
  }
}
process.stdout.write(JSON.stringify(out, null, 1) + '\n')
