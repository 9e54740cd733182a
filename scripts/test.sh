#!/usr/bin/env bash
# The test command (README, .ci/run): installs the third-party programs the tests meet as a user
# would (Debian packages: tinyproxy, squid with ssl-bump, openssl, nginx, libfaketime, Chromium and a
# font, iproute2; mitmproxy from PyPI), then runs `cargo test` with the arguments given.
#
# A test whose program is missing fails and names the line that installs it. To run without
# installing anything, set AZS_TEST_ALLOW_MISSING=1: those tests are then skipped, and how many
# (and which) is printed at the end.
#
# Installing needs root (or password-less sudo). Works with CI=true and no standard input.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

have() { command -v "$1" >/dev/null 2>&1; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif have sudo; then sudo -n "$@"
  else echo "scripts/test.sh: installing needs root: $*" >&2; return 1
  fi
}
have_mitmdump() {
  have mitmdump || [ -x "$HOME/.local/bin/mitmdump" ] || [ -x "${PYENV_ROOT:-$HOME/.pyenv}/shims/mitmdump" ]
}

if [ "${AZS_TEST_ALLOW_MISSING:-}" != 1 ]; then
  need=()
  have tinyproxy || [ -x /usr/bin/tinyproxy ] || need+=(tinyproxy-bin)
  { [ -x /usr/sbin/squid ] && [ -x /usr/lib/squid/security_file_certgen ]; } || need+=(squid-openssl)
  have openssl || need+=(openssl)
  # A real web server for the CRLs of tests/revocation.rs.
  have nginx || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  [ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || [ -e /usr/lib/faketime/libfaketime.so.1 ] || need+=(faketime)
  # Chromium renders the HTML reports headless; its fonts are only recommended, so one is named.
  have chromium || [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
  # Network namespaces for the tests whose addresses must never leave the machine.
  have ip || need+=(iproute2)
  # The Windows build's cross linker (tests/windows.rs runs the exe under wine64).
  have x86_64-w64-mingw32-gcc || need+=(gcc-mingw-w64-x86-64)
  # systemd-analyze verifies the scheduled preflight's units (tests/scheduled.rs).
  have systemd-analyze || need+=(systemd)
  if [ ${#need[@]} -gt 0 ]; then
    echo "scripts/test.sh: installing ${need[*]}"
    as_root apt-get update -qq </dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
  fi
  # mitmproxy (PyPI): a real intercepting proxy. 11.0.2 is the newest release that runs on Python 3.11.
  if ! have_mitmdump; then
    echo "scripts/test.sh: installing mitmproxy==11.0.2"
    python3 -m pip install -q --disable-pip-version-check mitmproxy==11.0.2 </dev/null
    if have pyenv; then pyenv rehash || true; fi
  fi
fi

# Every test skipped for a missing program is listed here (tests/common `require`).
export AZS_TEST_SKIP_LOG="$PWD/target/skipped-tests.log"
mkdir -p target
: > "$AZS_TEST_SKIP_LOG"

# The Windows build under wine64 for tests/windows.rs (installs wine64; builds the release exe and a
# wine prefix). Opt out with AZS_NETPROBE_SKIP_WINE=1.
if [ "${AZS_NETPROBE_SKIP_WINE:-}" != 1 ] && { [ "${AZS_TEST_ALLOW_MISSING:-}" != 1 ] || [ -x /usr/lib/wine/wine64 ]; }; then
  if ! rustup target list --installed 2>/dev/null | grep -q x86_64-pc-windows-gnu; then
    rustup target add x86_64-pc-windows-gnu </dev/null
  fi
  tests/wine/setup.sh </dev/null
fi

status=0
cargo test "$@" </dev/null || status=$?

skipped=$(grep -c . "$AZS_TEST_SKIP_LOG" || true)
if [ "$skipped" -gt 0 ]; then
  echo
  echo "scripts/test.sh: $skipped test(s) SKIPPED because a program is missing (AZS_TEST_ALLOW_MISSING=1):"
  while IFS=$'\t' read -r test program install; do
    echo "  $test: $program ($install)"
  done < "$AZS_TEST_SKIP_LOG"
fi
exit "$status"
