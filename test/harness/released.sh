#!/bin/bash
# test/harness/released.sh DIR: the library of every released version of
# pg_continuous (test/released_versions), built from the commit that
# released it into DIR/<version>/pg_continuous.so, for the tests of the
# update paths (test/t/023_update_paths.pl, which finds DIR in
# CONTINUOUS_RELEASED_DIR).  A version whose commit this checkout does not
# have (a tarball, a shallow clone) gets DIR/<version>/UNAVAILABLE with the
# reason instead, which the test reports.  Called by test.sh.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_locate
out=$1
mkdir -p "$out"
# as whoever runs make test, in a checkout that may belong to someone else
git_repo() { git -c safe.directory="$REPO" -C "$REPO" "$@"; }

while read -r version commit; do
	case "$version" in '' | '#'*) continue ;; esac
	dir=$out/$version
	mkdir -p "$dir"
	if ! git_repo cat-file -e "$commit^{commit}" 2>/dev/null; then
		echo "commit $commit, which released pg_continuous $version, is not in this checkout" >"$dir/UNAVAILABLE"
		log "released versions: $(cat "$dir/UNAVAILABLE")"
		continue
	fi
	log "released versions: building the library of pg_continuous $version ($commit)"
	src=$(mktemp -d "${TMPDIR:-/tmp}/pg_continuous-$version.XXXXXX")
	git_repo archive "$commit" | tar -x -C "$src"
	if ! $MAKE -C "$src" PG_CONFIG="$PG_CONFIG" -j2 >"$src.log" 2>&1; then
		tail -n 30 "$src.log" >&2
		rm -rf "$src" "$src.log"
		die "could not build pg_continuous $version"
	fi
	cp "$src/pg_continuous.so" "$dir/"
	rm -rf "$src" "$src.log"
done <"$REPO/test/released_versions"
chmod -R a+rX "$out"
