#!/bin/bash
# test/harness/header_deps.sh: when one of our headers changes, does `make`
# rebuild every object that includes it?  `make test` runs this.
#
# PGXS tracks no header dependencies, so the Makefile makes every object
# depend on our headers.  An object that rule leaves out keeps the old layout
# of a struct after a field is added: linked with objects built with the new
# one, it reads other fields' bytes.  The build succeeds and the worker then
# misbehaves, as it did when the headers moved into folders that the rule
# did not look in.
#
# For each header under src/, make is asked what it would run were that
# header just changed (make -n -W): the compile of every source file that
# includes the header directly must be among it.  The tree is built first,
# so that what make lists is due to the header alone.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cd "$REPO"
$MAKE -s PG_CONFIG="$PG_CONFIG" >/dev/null

missing=0
while read -r header; do
	# our includes name a header by its path under src/
	objects=$(grep -rlF --include='*.c' "#include \"${header#src/}\"" src |
		sed 's/\.c$/.o/') || true
	[ -n "$objects" ] || continue
	would=$($MAKE -n -W "$header" PG_CONFIG="$PG_CONFIG" 2>/dev/null)
	for object in $objects; do
		if ! grep -qF -- "-o $object " <<<"$would"; then
			echo "$object is not rebuilt when $header changes" >&2
			missing=$((missing + 1))
		fi
	done
done < <(find src -name '*.h' | sort)

if [ "$missing" -gt 0 ]; then
	echo "header_deps: $missing objects would be left with an old header; see the header rule in the Makefile" >&2
	exit 1
fi
