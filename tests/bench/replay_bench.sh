#!/bin/bash
# replay_bench.sh: how fast `senderwatch replay` reads a busy server's main
# log, next to the tools an Exim admin already has, on the same file in one
# run: `wc -l` (the floor: reading lines), Exim's ratelimit.pl (per-account
# peak rates, the nearest thing to a measured limit) and eximstats (the log
# report every Debian install ships). docs/performance.md ("Log replay")
# reports its output.
#
#   tests/bench/replay_bench.sh [--build DIR] [--lines N] [--work DIR] [--no-others]
#
#   --build DIR   build directory with src/cli/senderwatch (default: build)
#   --lines N     lines of the generated log (default 5000000, ~175 bytes each)
#   --work DIR    where the log is generated and kept between runs
#                 (default /tmp/senderwatch-replay-bench)
#   --no-others   time only wc -l and senderwatch (ratelimit.pl and eximstats
#                 take minutes on 5M lines)
#
# The generator (gen_mainlog.cc) is the CMake target senderwatch_gen_mainlog
# when configured with -DSENDERWATCH_BUILD_BENCH=ON; otherwise this script
# compiles it with c++. Times are wall clock and CPU (user+sys) of one
# process; "lines/CPU-s" is lines per CPU second, i.e. on one core, and
# "CPU / wc" compares CPU times with wc -l's. Run it on an idle machine:
# other load shows up in the wall times (the CPU times hold up better).
set -euo pipefail

SOURCE_DIR=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$SOURCE_DIR/build
LINES=5000000
WORK=/tmp/senderwatch-replay-bench
OTHERS=1
while [ $# -gt 0 ]; do
  case $1 in
    --build) BUILD=$(cd "$2" && pwd); shift 2 ;;
    --lines) LINES=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --no-others) OTHERS=0; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "replay_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

CLI=$BUILD/src/cli/senderwatch
[ -x "$CLI" ] || { echo "replay_bench.sh: $CLI not built" >&2; exit 2; }
mkdir -p "$WORK"
GEN=$BUILD/tests/bench/senderwatch_gen_mainlog
if [ ! -x "$GEN" ]; then
  GEN=$WORK/gen_mainlog
  if [ ! -x "$GEN" ] || [ "$SOURCE_DIR/tests/bench/gen_mainlog.cc" -nt "$GEN" ]; then
    ${CXX:-c++} -std=c++20 -O2 -o "$GEN" "$SOURCE_DIR/tests/bench/gen_mainlog.cc"
  fi
fi

LOG=$WORK/mainlog-$LINES
if [ ! -s "$LOG" ]; then
  echo "generating $LINES lines into $LOG ..." >&2
  "$GEN" --lines "$LINES" > "$LOG.tmp"
  mv "$LOG.tmp" "$LOG"
fi
BYTES=$(stat -c %s "$LOG")
cat "$LOG" > /dev/null  # into the page cache: every tool reads from memory

# run NAME COMMAND...: times one command (output discarded), appends a row.
ROWS=()
WC_CPU=
run() {
  local name=$1; shift
  /usr/bin/time -o "$WORK/time.out" -f "%e %U %S %M" "$@" > /dev/null 2> "$WORK/stderr.out" || {
    echo "replay_bench.sh: $name failed:" >&2; cat "$WORK/stderr.out" >&2; exit 1; }
  read -r wall user sys rss < "$WORK/time.out"
  local cpu rate ratio
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
  [ -n "$WC_CPU" ] || WC_CPU=$cpu
  rate=$(awk -v n="$LINES" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", n / c; else print "-" }')
  ratio=$(awk -v c="$cpu" -v w="$WC_CPU" 'BEGIN { if (w > 0) printf "%.1f", c / w; else print "-" }')
  ROWS+=("$(printf '| %-40s | %8s | %8s | %12s | %9s | %8s |' "$name" "$wall" "$cpu" "$rate" "$ratio" "$((rss / 1024)) MiB")")
  echo "  $name: ${wall}s wall, ${cpu}s CPU" >&2
}

echo "timing on $LOG ($LINES lines, $((BYTES / 1048576)) MiB) ..." >&2
run "wc -l" wc -l "$LOG"
run "senderwatch replay (default policy)" "$CLI" replay --utc --no-progress "$LOG"
run "senderwatch replay --json" "$CLI" replay --utc --no-progress --json "$LOG"
run "senderwatch tune" "$CLI" tune --utc --no-progress "$LOG"
if [ "$OTHERS" = 1 ]; then
  RATELIMIT=/usr/share/doc/exim4-base/examples/ratelimit.pl
  if [ -r "$RATELIMIT" ]; then
    run "ratelimit.pl 3600 per A= id" perl -wT "$RATELIMIT" 3600 ' <= .*? A=[^:]*:(\S+)' "$LOG"
  fi
  if command -v eximstats > /dev/null; then
    run "eximstats" eximstats "$LOG"
  fi
fi

echo
echo "Log: $LINES lines, $BYTES bytes ($((BYTES / LINES)) bytes/line), $(nproc) CPUs, $(uname -r)"
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo
echo "| tool                                     | wall (s) |  CPU (s) |  lines/CPU-s | CPU / wc  |  max RSS |"
echo "|------------------------------------------|---------:|---------:|-------------:|----------:|---------:|"
printf '%s\n' "${ROWS[@]}"
