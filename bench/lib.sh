# bench/lib.sh — what the bench scripts share (sourced, not run): rows in the common CSV format
# (bench/README.md), the load average, medians and key=value lookup.
#
#   csv_open FILE MACHINE   rows go to FILE (the header written when it is new), MACHINE in each
#   csv_row BENCHMARK METRIC VALUE UNIT REFERENCE COMMAND
#                           one row: ratio = VALUE / REFERENCE (empty without a reference), the
#                           load average appended to METRIC; only the quoted COMMAND may hold
#                           commas (they become ';' elsewhere). Leaves the ratio in $CSV_RATIO.

load() { cut -d' ' -f1 /proc/loadavg; }

# The median of the numbers on stdin, one a line (nothing for none).
median() {
  sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2)}'
}

# The value of key $1 among the key=value words on stdin (its first).
kv() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

csv_open() {
  CSV_FILE=$1; CSV_MACHINE=${2//,/;}
  mkdir -p "$(dirname "$CSV_FILE")"
  [ -f "$CSV_FILE" ] || echo "date,machine,benchmark,metric,value,unit,reference,ratio,command" >"$CSV_FILE"
}

csv_row() {
  CSV_RATIO=""
  [ -n "$5" ] && CSV_RATIO=$(awk -v a="$3" -v b="$5" 'BEGIN {if (b > 0) printf "%.3f", a / b}')
  echo "$(date -u +%F),$CSV_MACHINE,${1//,/;},${2//,/;} (load $(load)),$3,$4,$5,$CSV_RATIO,\"$6\"" >>"$CSV_FILE"
}
