#!/usr/bin/env node
// Oracle for npmaudit.project.globs: minimatch's verdict (the copy bundled with the npm on PATH,
// default options, as @npmcli/map-workspaces calls it) for every pair of a set of workspace-style
// patterns and folder paths, plus the brace expansions of a few patterns.
// Usage: node minimatch_globs.js > tests/fixtures/globs/minimatch.json
'use strict'
const path = require('node:path')
const { execSync } = require('node:child_process')

const npmRoot = path.join(execSync('npm root -g', { encoding: 'utf8' }).trim(), 'npm')
const { minimatch } = require(path.join(npmRoot, 'node_modules', 'minimatch'))
const version = require(path.join(npmRoot, 'node_modules', 'minimatch', 'package.json')).version

const patterns = [
  'packages/*', 'packages/**', 'packages/**/*', '**', '**/*', '*', '**/node_modules/**', 'apps/{web,api}',
  '{apps,packages}/*', '{apps,packages}/**', 'apps/{web,{api,admin}}', 'apps/{,web}', 'apps/web{,-*}',
  'tools/?', 'tools/??', 'tools/[xy]', 'tools/[!xy]', 'tools/[^xy]', 'tools/[a-c]', 'tools/[c-a]', 'tools/[x]',
  'tools/[]x]', 'tools/[x-]', 'tools/[\\]]', 'tools/[[:alpha:]]', 'tools/[[:digit:]]*', 'tools/[',
  'tools/[]', 'packages/.*', 'packages/.hidden', 'packages/*hidden', 'packages/[.]hidden', 'packages/\\*',
  'packages/a*', 'packages/*a', 'packages/*/sub', 'packages/*/*', 'packages/**/sub', '**/sub', 'packages/**/b',
  'packages/**/**', 'packages/**/**/sub', 'packages/../tools/*', 'packages/a/..', './packages/*',
  'v{1..3}', 'v{01..3}', 'v{3..1}', 'v{1..5..2}', 'v{a..c}', 'v{a,b', 'v{a}', 'v\\{a,b}', '{}x', '${a,b}',
  'apps/{a},b}', '#comment', 'packages//a', 'packages/a/', '*a*a*a*a*b', 'a?c*', '**/x/**', '**/x/**/.y',
  '**/.y', 'packages/@(a|b)', 'docs', 'apps/*{b,i}', 'ünï/*', 'ünï/[[:lower:]]',
]
const paths = [
  'packages/a', 'packages/b', 'packages/b/sub', 'packages/.hidden', 'packages/x/.y', 'packages/*',
  'packages/aa', 'packages/ba', 'packages/a/b/sub', 'packages/@(a|b)', 'tools/x', 'tools/y', 'tools/z',
  'tools/a', 'tools/b', 'tools/c', 'tools/]', 'tools/-', 'tools/xy', 'tools/5a', 'tools/[', 'tools/é',
  'node_modules/a', 'packages/a/node_modules/z', 'a/node_modules', 'docs', 'apps/web', 'apps/api',
  'apps/admin', 'apps/legacy', 'apps', 'apps/web-next', 'apps/ab', 'apps/bi', 'v1', 'v2', 'v4', 'v01',
  'v03', 'va', 'vc', 'v{a,b', 'v{a}', 'v{a,b}', 'va,b}', '{}x', '${a,b}', 'apps/{a},b}', 'apps/{a}',
  'apps/b}', '#comment', 'x', 'x/y', 'a/x/z/.y', 'x/z/.y', 'a/.y', 'abc', 'abcd', 'aaaaab', 'aaaaa',
  'ünï/a', 'ünï/Ä', 'ünï/ä', '.hidden', 'sub', 'a/sub',
]
const matches = patterns.map(pattern => paths.map(p => minimatch(p, pattern)))
const braces = ['{a,b}', 'a{b,c}d{e,f}', '{a,{b,c}}', 'x{{a,b}}y', '{1..3}', '{a..e..2}', '{,a}', '{a,}b',
  '{05..1..2}', '{-2..2}', '{a}', 'a\\{b,c}', '{a},b}c']
const expansions = braces.map(p => [p, minimatch.braceExpand(p)])
process.stdout.write(JSON.stringify({ minimatch: version, patterns, paths, matches, expansions }) + '\n')
