#!/usr/bin/env bash
# Prepares what tests/windows.rs needs to run the Windows build under wine64:
#   target/x86_64-pc-windows-gnu/release/azs-netprobe.exe   (the README's Windows build command)
#   target/wine/prefix                                      (a WINEPREFIX with the ProcessPrng shim
#                                                            and a stand-in w32tm.exe)
# Idempotent: a second run only rebuilds what changed. Installs Debian's wine64 when it is
# missing and we are root (CI). Quiet unless something fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
export WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
if ! [ -x /usr/lib/wine/wine64 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wine64 >/dev/null
fi
command -v x86_64-w64-mingw32-gcc >/dev/null || { echo "setup.sh: x86_64-w64-mingw32-gcc is missing (gcc-mingw-w64-x86-64)" >&2; exit 1; }

# The release exe, exactly as the README builds it.
cargo build --quiet --release --target x86_64-pc-windows-gnu

# Rust's std imports ProcessPrng from bcryptprimitives.dll, which wine 8 lacks: a shim DLL.
mkdir -p target/wine
dll=target/wine/bcryptprimitives.dll
if ! [ -s "$dll" ] || [ tests/wine/processprng.c -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc -O2 -shared -s -o "$dll" tests/wine/processprng.c -ladvapi32
fi

export WINEPREFIX="$root/target/wine/prefix"
if ! [ -f "$WINEPREFIX/system.reg" ]; then
  /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1
  /usr/lib/wine/wineserver -w
fi
cp "$dll" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
# wine 8 has no w32tm.exe: a stand-in that answers `w32tm /query /source` from the test's
# AZS_TEST_W32TM_SOURCE (tests/wine/w32tm.c).
w32tm=target/wine/w32tm.exe
if ! [ -s "$w32tm" ] || [ tests/wine/w32tm.c -nt "$w32tm" ]; then
  x86_64-w64-mingw32-gcc -O2 -s -o "$w32tm" tests/wine/w32tm.c
fi
cp "$w32tm" "$WINEPREFIX/drive_c/windows/system32/w32tm.exe"
echo "wine prefix ready: $WINEPREFIX"
