#!/bin/sh
# Checks DESIGN.md's layering: no folder includes a header from a folder
# above it (runtime < dht < fs < checkpoint < mpi-shim < launcher), and
# examples include nothing of Starfish's but <mpi.h>.
src=${top_srcdir:-$(dirname "$0")/..}
rank() {
    case "$1" in
    runtime) echo 1 ;; dht) echo 2 ;; fs) echo 3 ;; checkpoint) echo 4 ;;
    mpi-shim) echo 5 ;; launcher) echo 6 ;; *) echo 0 ;;
    esac
}
bad=0 checked=0
for dir in runtime dht fs checkpoint mpi-shim launcher; do
    mine=$(rank "$dir")
    for f in $(find "$src/$dir" -name '*.[ch]' 2>/dev/null); do
        checked=$((checked + 1))
        for inc in $(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^/"]*\)\/.*/\1/p' "$f"); do
            theirs=$(rank "$inc")
            if [ "$theirs" -gt "$mine" ]; then
                echo "FAIL: ${f#$src/} includes from $inc/, which sits above $dir/"
                bad=$((bad + 1))
            fi
        done
    done
done
for f in $(find "$src/examples" -name '*.[ch]' 2>/dev/null); do
    checked=$((checked + 1))
    if grep -nE '^#[[:space:]]*include[[:space:]]*"' "$f" | grep -v '"mpi.h"' >/dev/null; then
        echo "FAIL: ${f#$src/} includes a Starfish header; examples use <mpi.h> only"
        bad=$((bad + 1))
    fi
done
echo "checked $checked files"
echo "$((checked - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
