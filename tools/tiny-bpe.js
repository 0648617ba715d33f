#!/usr/bin/env node
// tiny-bpe.js — Node helper for tools/train-tiny, driving the HuggingFace `tokenizers` Rust
// library (npm `tokenizers`, the same build tools/tokref.js uses). The npm bindings expose no
// BPE trainer with a settable vocabulary size, so the merges are learned in Python by
// train-tiny; this helper only does the two steps that must match HF exactly:
//
//   node tools/tiny-bpe.js wordcounts IN.txt OUT.json
//       pre-tokenizes IN.txt with HF's ByteLevel pre-tokenizer (GPT-2 regex, no prefix space)
//       and writes {"word in byte-level alphabet": count, ...} (keys sorted) to OUT.json.
//   node tools/tiny-bpe.js encode TOKENIZER_JSON DOCS.json OUT.bin
//       DOCS.json is a JSON array of strings (documents); each is encoded with special tokens
//       (so each starts with the BOS the tokenizer's post-processor adds) and the ids of all
//       documents are concatenated and written as little-endian int32 to OUT.bin.
'use strict';
const fs = require('fs');
const tk = require('tokenizers');

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === 'wordcounts') {
    const [inp, out] = rest;
    const text = fs.readFileSync(inp, 'utf8');
    const pre = tk.byteLevelPreTokenizer(false, true);
    const counts = new Map();
    // Pre-tokenize line by line (the GPT-2 regex never joins across a "\n" except inside
    // whitespace runs, which are counted here as they come).
    for (const line of text.split(/(?<=\n)/)) {
      for (const [w] of pre.preTokenizeString(line)) counts.set(w, (counts.get(w) || 0) + 1);
    }
    const keys = Array.from(counts.keys()).sort();
    const obj = {};
    for (const k of keys) obj[k] = counts.get(k);
    fs.writeFileSync(out, JSON.stringify(obj));
  } else if (cmd === 'encode') {
    const [tokPath, docsPath, out] = rest;
    const tok = tk.Tokenizer.fromFile(tokPath);
    const docs = JSON.parse(fs.readFileSync(docsPath, 'utf8'));
    const parts = [];
    let n = 0;
    for (const d of docs) {
      const ids = (await tok.encode(d, null, { addSpecialTokens: true })).getIds();
      parts.push(ids);
      n += ids.length;
    }
    const buf = Buffer.alloc(n * 4);
    let o = 0;
    for (const ids of parts) for (const id of ids) { buf.writeInt32LE(id, o); o += 4; }
    fs.writeFileSync(out, buf);
    process.stdout.write(`tokens=${n}\n`);
  } else {
    throw new Error('usage: tiny-bpe.js wordcounts IN OUT | encode TOKENIZER DOCS OUT');
  }
}

main().catch((e) => { process.stderr.write(`tiny-bpe: ${e.message}\n`); process.exit(1); });
