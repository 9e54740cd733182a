#!/usr/bin/env bash
# Runs the end-to-end benchmark (examples/bench.rs) the way BENCHMARKS.md was produced:
# installs GNU time if missing, builds the release binary, runs the bench and keeps its tables.
#   scripts/bench.sh                       # the full set, about 6 minutes on 2 cores
#   scripts/bench.sh --n 50 --rtt 100      # any option of the bench (see the top of examples/bench.rs)
# Output: the markdown tables on stdout and in target/bench/bench-<UTC time>.md.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ]; then s=(); else s=(sudo -n); fi
  "${s[@]}" apt-get install -y -qq time >/dev/null || { "${s[@]}" apt-get update -qq && "${s[@]}" apt-get install -y -qq time >/dev/null; }
fi
command -v curl >/dev/null || echo "warning: curl is missing; the curl columns need it (or pass --no-curl)" >&2
cargo build --release --bin azs-netprobe --example bench
mkdir -p target/bench
out="target/bench/bench-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "nproc: $(nproc); $(lscpu | grep -m1 'Model name' | tr -s ' '); kernel $(uname -r); $(rustc -V)"
  echo
  target/release/examples/bench "$@"
} | tee "$out"
echo "(saved to $out)" >&2
