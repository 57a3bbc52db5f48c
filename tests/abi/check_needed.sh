#!/bin/sh
# Fails when senderwatch.so needs a shared library that /usr/sbin/exim4 does
# not load itself, other than liblmdb (whose Debian archive is not built for
# a shared object). Every such library costs each Exim process that loads
# the plugin a file to map and its own symbol lookups in Exim's scope of
# some 40 libraries (docs/performance.md, "Per process"): the C++ runtime,
# toml++ and hiredis are linked into the module for that reason.
set -eu
so=$1
exim=/usr/sbin/exim4
[ -x "$exim" ] || { echo "SKIP: $exim not installed"; exit 0; }
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
exim_libs=$(readelf -d "$exim" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
  ldd "$exim" | awk '{print $1}')
extra=""
for lib in $needed; do
  case "$lib" in liblmdb.so.*|ld-linux*) continue ;; esac
  if ! printf '%s\n' "$exim_libs" | grep -qx "$lib"; then extra="$extra $lib"; fi
done
if [ -n "$extra" ]; then
  echo "senderwatch.so needs libraries Exim does not load itself:$extra"
  exit 1
fi
echo "needed libraries OK:" $needed
