# lib.sh — sourced by tests/cli/*.sh. Not a test itself (run.sh skips files named lib.sh).
set -u
AH_BIN="${AH_BIN:-./awq-harness}"
SHARED="${AH_SHARED_DATA:-../shared/data}"
fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "skipped: $*"; exit 77; }
# kv KEY LINE: the value of KEY in a "k=v k=v" line
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
# rel_close A B TOL: exit 0 when |A-B| <= TOL*|B|
rel_close() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN{d=a-b; if(d<0)d=-d; m=b<0?-b:b; exit !(d<=t*m)}'; }
# fixture_model_args NAME: the --model (and, for the llama2.c fixture, --tokenizer) arguments of
# a committed fixture under tests/fixtures/.
fixture_model_args() {
  if [ "$1" = llama2c ]; then echo "--model tests/fixtures/llama2c/model.bin --tokenizer tests/fixtures/llama2c/tokenizer.bin"
  else echo "--model tests/fixtures/$1"; fi
}
