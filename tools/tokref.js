#!/usr/bin/env node
// tokref.js — reference token ids from the HuggingFace `tokenizers` Rust library (Node
// bindings, npm package `tokenizers`), used to produce the golden files the C tokenizers are
// tested against. Not the pure-JS port `@huggingface/tokenizers`, which differs on rare cases.
//
// Set-up once: (cd tools && npm install)
//
// Usage:
//   node tools/tokref.js --tokenizer PATH (--text FILE | --wikitext2 RAW_FILE | --string S)
//                        [--no-special] [--bos ID] [--add-special TOKEN]... [--format ids|summary]
//   PATH: a tokenizer.json file, or a directory holding tokenizer.json, or one holding
//         vocab.json + merges.txt (byte-level BPE as GPT2TokenizerFast builds it).
//   --wikitext2 RAW: rebuild HF rows from a raw WikiText-2 split (one line = one row; a line
//         holding a single space is the empty row) and join them with "\n\n".
//   --bos ID: prepend ID (for vocab.json + merges.txt tokenizers that add a BOS, e.g. OPT's 2).
//   --add-special TOKEN: register TOKEN as a special (added) token before encoding, as
//         transformers does for a vocab.json + merges.txt tokenizer's named special tokens
//         (e.g. OPT's "</s>"), so that TOKEN inside the text becomes its one id.
//   --format ids (default): one id per line.  summary: "count=N sha256=HEX" where HEX is the
//         SHA-256 of the ids as little-endian int32 — the form committed for large texts.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const tk = require('tokenizers');

function parseArgs(argv) {
  const a = { special: true, format: 'ids', bos: null, addSpecial: [] };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--tokenizer') a.tokenizer = v();
    else if (k === '--text') a.text = fs.readFileSync(v(), 'utf8');
    else if (k === '--string') a.text = v();
    else if (k === '--wikitext2') a.text = wikitextRows(fs.readFileSync(v(), 'utf8'));
    else if (k === '--no-special') a.special = false;
    else if (k === '--bos') a.bos = parseInt(v(), 10);
    else if (k === '--add-special') a.addSpecial.push(v());
    else if (k === '--format') a.format = v();
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.tokenizer || a.text === undefined) throw new Error('need --tokenizer and a text source');
  return a;
}

// HF `wikitext-2-raw-v1` rows from the raw file, joined as the GPTQ/AWQ evaluation does.
function wikitextRows(raw) {
  const lines = raw.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l === ' ' ? '' : l + '\n')).join('\n\n');
}

async function load(p) {
  const st = fs.statSync(p);
  if (st.isFile()) return tk.Tokenizer.fromFile(p);
  const tj = path.join(p, 'tokenizer.json');
  if (fs.existsSync(tj)) return tk.Tokenizer.fromFile(tj);
  // vocab.json + merges.txt: what GPT2TokenizerFast converts to (ByteLevel, no prefix space).
  const model = await tk.BPE.fromFile(path.join(p, 'vocab.json'), path.join(p, 'merges.txt'));
  const t = new tk.Tokenizer(model);
  t.setPreTokenizer(tk.byteLevelPreTokenizer(false, true));
  return t;
}

async function main() {
  const a = parseArgs(process.argv);
  const tok = await load(a.tokenizer);
  if (a.addSpecial.length) tok.addSpecialTokens(a.addSpecial);
  const enc = await tok.encode(a.text, null, { addSpecialTokens: a.special });
  let ids = Array.from(enc.getIds());
  if (a.bos !== null) ids = [a.bos].concat(ids);
  if (a.format === 'summary') {
    const buf = Buffer.alloc(ids.length * 4);
    ids.forEach((id, i) => buf.writeInt32LE(id, i * 4));
    const hex = crypto.createHash('sha256').update(buf).digest('hex');
    process.stdout.write(`count=${ids.length} sha256=${hex}\n`);
  } else {
    process.stdout.write(ids.join('\n') + (ids.length ? '\n' : ''));
  }
}

main().catch((e) => { process.stderr.write(`tokref: ${e.message}\n`); process.exit(1); });
