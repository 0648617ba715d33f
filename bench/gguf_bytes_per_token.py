"""bench/gguf_bytes_per_token.py — the bytes of a GGUF that decoding one token reads: every
tensor's data, except the token embedding table when the file has its own output.weight (an
untied LM head): then only one row of the embedding is read per token, not the table. With a
tied head (no output.weight) token_embd.weight is the LM head and is read whole.

Run with the peers' Python (gguf-py, tools/peers/venv): python bench/gguf_bytes_per_token.py F.gguf
"""
import sys

from gguf import GGUFReader


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: gguf_bytes_per_token.py FILE.gguf")
    sizes = {t.name: int(t.n_bytes) for t in GGUFReader(sys.argv[1]).tensors}
    total = sum(sizes.values())
    if "output.weight" in sizes:
        total -= sizes.get("token_embd.weight", 0)
    print(total)


if __name__ == "__main__":
    main()
