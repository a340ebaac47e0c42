#!/bin/bash
# test/harness/build.sh: install missing Debian packages (deps.sh), build the
# extension with PGXS and install it into the PostgreSQL 15 tree (as root, or
# through sudo when the tree is not writable).  Used by make test/demo/bench.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

"$REPO/test/harness/deps.sh"
pg_locate

log "building pg_continuous"
$MAKE -C "$REPO" PG_CONFIG="$PG_CONFIG"
$MAKE -C "$REPO" PG_CONFIG="$PG_CONFIG" kafka-tools

log "installing into $("$PG_CONFIG" --pkglibdir)"
if [ -w "$("$PG_CONFIG" --pkglibdir)" ] && [ -w "$("$PG_CONFIG" --sharedir)/extension" ]; then
	$MAKE -C "$REPO" PG_CONFIG="$PG_CONFIG" install
else
	as_root $MAKE -C "$REPO" PG_CONFIG="$PG_CONFIG" install
fi
