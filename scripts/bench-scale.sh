#!/usr/bin/env bash
# Scale benchmark (BENCHMARKS.md, "20,000 endpoints"): how long the release binary takes for
# many endpoints end to end, and how much of it is post-processing (diagnosis, report, HTML).
#   scripts/bench-scale.sh                         # builds target/release/azs-netprobe, 5 runs each
#   scripts/bench-scale.sh --bin OLD --bin NEW     # compare binaries (e.g. before/after a change)
#   scripts/bench-scale.sh --runs 3 --n 20000 --dups 4000
# Every endpoint is https://127.0.0.1:1/ (a closed loopback port: each connect is refused at
# once, so probing is short and post-processing dominates); nothing leaves the machine. Cases:
#   json   --probes FILE (N endpoints) --out report.json
#   html   the same plus --html report.html
#   dups   an empty probe file and D copies of the same --endpoint (naming them, then probing)
#   stop   the html case, SIGTERM as soon as the log says the report is being built (a binary that
#          does not log it: --stop-after seconds after start, default 3): time from SIGTERM to exit
# Figures: median (min-max) wall seconds; CPU = user+sys seconds (GNU time, when installed);
# probe = run.duration_ms of the report (probing and diagnosis), so wall - probe ~ the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
bins=(); runs=5; n=20000; dups=4000; stop_after=3
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bins+=("$2"); shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --n) n="$2"; shift 2 ;;
    --dups) dups="$2"; shift 2 ;;
    --stop-after) stop_after="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 3 ;;
  esac
done
if [ ${#bins[@]} -eq 0 ]; then
  cargo build --release --bin azs-netprobe
  bins=(target/release/azs-netprobe)
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
{
  echo 'name = "scale"'; echo 'version = "1"'; echo 'ntp_servers = []'
  for ((i = 0; i < n; i++)); do
    printf '[[endpoint]]\nname = "ep%d"\nrole = "custom"\nurl = "https://127.0.0.1:1/"\n' "$i"
  done
} > "$work/many.toml"
echo 'ntp_servers = []' > "$work/empty.toml"
dup_args=(); for ((i = 0; i < dups; i++)); do dup_args+=(--endpoint https://127.0.0.1:1/); done
timer=(); [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$work/cpu")
median() { sort -g | awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%.2f (%.2f-%.2f)", m, a[1], a[NR]}'; }
now() { date +%s.%N; }
one() { # bin case -> "wall cpu probe_s"
  local bin=$1 c=$2 t0 t1 cpu=nan probe=nan
  rm -f "$work/r.json" "$work/r.html"
  case $c in
    json) t0=$(now); "${timer[@]}" "$bin" run --probes "$work/many.toml" --no-proxy --timeout 2s --out "$work/r.json" >/dev/null 2>&1 || true; t1=$(now) ;;
    html) t0=$(now); "${timer[@]}" "$bin" run --probes "$work/many.toml" --no-proxy --timeout 2s --out "$work/r.json" --html "$work/r.html" >/dev/null 2>&1 || true; t1=$(now) ;;
    dups) t0=$(now); "${timer[@]}" "$bin" run --probes "$work/empty.toml" "${dup_args[@]}" --no-proxy --timeout 2s --out "$work/r.json" >/dev/null 2>&1 || true; t1=$(now) ;;
    stop)
      "$bin" run -v --probes "$work/many.toml" --no-proxy --timeout 2s --out "$work/r.json" --html "$work/r.html" >/dev/null 2>"$work/err" &
      # Up to --stop-after seconds for the log line (a binary without it is signalled then).
      local pid=$! k=0
      until grep -q "building the report" "$work/err" 2>/dev/null || ! kill -0 "$pid" 2>/dev/null; do
        sleep 0.01; k=$((k+1)); [ $k -ge $((stop_after * 100)) ] && break
      done
      t0=$(now); kill -TERM "$pid" 2>/dev/null || true; wait "$pid" || true; t1=$(now)
      [ -e "$work/r.json" ] && echo "warning: $bin wrote a report after SIGTERM" >&2 ;;
  esac
  [ -s "$work/cpu" ] && [ "$c" != stop ] && cpu=$(tail -n1 "$work/cpu" | awk '{print $1 + $2}')
  if [ "$c" != stop ] && [ -s "$work/r.json" ]; then
    probe=$(grep -m1 -o '"duration_ms": [0-9]*' "$work/r.json" | awk '{print $2 / 1000}')
  fi
  rm -f "$work/cpu"
  echo "$(echo "$t1 - $t0" | bc) $cpu $probe"
}
echo "nproc: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg); kernel $(uname -r); N=$n endpoints, D=$dups copies, $runs runs"
echo
echo "| binary | case | wall s | CPU s | probe s (report) |"
echo "|---|---|---|---|---|"
for bin in "${bins[@]}"; do
  for c in json html dups stop; do
    one "$bin" "$c" >/dev/null   # warm-up
    : > "$work/rows"
    for ((r = 0; r < runs; r++)); do one "$bin" "$c" >> "$work/rows"; done
    wall=$(awk '{print $1}' "$work/rows" | median)
    cpu=$(awk '$2 != "nan" {print $2}' "$work/rows" | { read -r x && { echo "$x"; cat; } | median || echo "-"; })
    probe=$(awk '$3 != "nan" {print $3}' "$work/rows" | { read -r x && { echo "$x"; cat; } | median || echo "-"; })
    [ "$c" = stop ] && c="stop (SIGTERM → exit)"
    echo "| $(basename "$bin") | $c | $wall | $cpu | $probe |"
  done
done
