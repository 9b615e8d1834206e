#!/usr/bin/env node
// Parses GDScript files with the Godot 4 grammar (tree-sitter-gdscript) and
// reports every syntax error (ERROR and MISSING nodes). Exit status 1 if any
// file has one, 2 on a usage or setup problem.
//
//   node godot/tools/gdparse.js FILE.gd...
//
// It checks syntax only: not names, types, or what Godot 4 removed from its
// API (godot/enginetest/compat_test.go checks those of the core files).
'use strict';

const fs = require('fs');

let Parser, GDScript;
try {
  Parser = require('tree-sitter');
  GDScript = require('tree-sitter-gdscript');
} catch (e) {
  console.error('gdparse: cannot load tree-sitter (run `npm ci` in godot/tools): ' + e.message);
  process.exit(2);
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node gdparse.js FILE.gd...');
  process.exit(2);
}

const parser = new Parser();
parser.setLanguage(GDScript);

let bad = 0;
for (const file of files) {
  const src = fs.readFileSync(file, 'utf8');
  // The binding's default read buffer is small; pass the size explicitly.
  const tree = parser.parse(src, null, { bufferSize: Math.max(64 * 1024, 2 * src.length) });
  const errors = [];
  const walk = (node) => {
    if (node.type === 'ERROR' || node.isMissing) {
      const p = node.startPosition;
      const text = src.slice(node.startIndex, Math.min(node.endIndex, node.startIndex + 60)).replace(/\n/g, '\\n');
      errors.push(`${file}:${p.row + 1}:${p.column + 1}: ${node.isMissing ? 'missing ' + node.type : 'syntax error'} near "${text}"`);
      if (node.type === 'ERROR') {
        return; // one report per error region
      }
    }
    for (let i = 0; i < node.childCount; i++) {
      walk(node.child(i));
    }
  };
  if (tree.rootNode.hasError) {
    walk(tree.rootNode);
    if (errors.length === 0) {
      errors.push(`${file}: the parser reports an error it does not locate`);
    }
  }
  for (const e of errors) {
    console.log(e);
  }
  if (errors.length > 0) {
    bad++;
  }
}
console.log(`gdparse: ${files.length} files, ${bad} with syntax errors`);
process.exit(bad > 0 ? 1 : 0);
