#!/bin/sh
# Fails when senderwatch.so imports a symbol that neither /usr/sbin/exim4
# exports nor one of the module's own DT_NEEDED libraries provides: such a
# module would fail to load in Exim (or, bound lazily, kill the process).
set -eu
so=$1
exim=/usr/sbin/exim4
[ -x "$exim" ] || { echo "SKIP: $exim not installed"; exit 0; }
# Strong imports only: a weak one (w) that nobody defines resolves to null
# and cannot make dlopen fail.
undefined=$(nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | grep -v '@' | sort -u)
exported=$(nm -D --defined-only "$exim" | awk '{print $3}' | sort -u)
# Symbols the module's own dependencies (DT_NEEDED, resolved by ldd) provide.
for lib in $(ldd "$so" | awk '/=> \//{print $3}'); do
  exported="$exported
$(nm -D --defined-only "$lib" 2>/dev/null | awk '{print $3}' | sed 's/@.*//')"
done
missing=""
for sym in $undefined; do
  case "$sym" in __gmon_start__|_ITM_*|__cxa_finalize|_Jv_RegisterClasses) continue ;; esac
  if ! printf '%s\n' "$exported" | grep -qx "$sym"; then missing="$missing $sym"; fi
done
if [ -n "$missing" ]; then
  echo "senderwatch.so imports symbols /usr/sbin/exim4 does not export:$missing"
  exit 1
fi
# Exactly the contract functions are exported (the five calls and preload).
defined=$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sort | tr '\n' ' ')
if [ "$defined" != "check_sender peek_sender preload record_authfail record_bounce record_defer " ]; then
  echo "unexpected exported functions: $defined"
  exit 1
fi
echo "imports OK; exports: $defined"
