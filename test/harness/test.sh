#!/bin/bash
# test/harness/test.sh: `make test`.  Installs missing packages, builds and
# installs the extension, then runs, each on its own temporary instance
# configured by test/regress.conf (preloaded, wal_level = logical):
#   - pg_regress over sql/*.sql against expected/*.out (sql/readme.sql is
#     the README's examples: test/harness/readme_sql.sh checks it is current),
#   - pg_isolation_regress over test/isolation/specs/*.spec, if any,
#   - the TAP tests test/t/*.pl with prove, as PGXS's prove_installcheck does
#     (with the libraries of released versions, test/harness/released.sh, for
#     the tests that use them),
#   - the Kafka message decoders' fuzzers (test/fuzz), briefly.
# Before them, test/harness/header_deps.sh checks that a changed header
# rebuilds every object that includes it.
# Servers run as an unprivileged user (postgres when invoked as root) in a
# scratch directory under /tmp.  Results, diffs and logs are copied back into
# the repository (results/, regression.diffs, log/, tmp_check/log/).
# The last line of output is "N passed, N failed"; the exit status is non-zero
# if anything failed.  REGRESS, ISOLATION and PROVE_TESTS (e.g.
# PROVE_TESTS=t/000_lifecycle.pl) pick tests; "none" skips a suite, and
# FUZZ=none skips the fuzzers.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

hold_install_lock

if ! "$REPO/test/harness/build.sh" || ! "$REPO/test/harness/deps.sh" --tests; then
	echo "build or install failed"
	echo "0 passed, 1 failed"
	exit 1
fi
pg_locate

SCRATCH=$(pg_scratch_dir test)
trap 'rm -rf "$SCRATCH"' EXIT

passed=0
failed=0

# Tests are read by the server user.  Use the repository in place when that
# user can read it; otherwise (e.g. a clone under /root) a private copy.
TESTROOT=$REPO
stage_tests()
{
	[ "$TESTROOT" = "$REPO" ] || return 0
	TESTROOT=$SCRATCH/src
	mkdir -p "$TESTROOT"
	for d in sql expected test contrib; do
		[ ! -d "$REPO/$d" ] || cp -R "$REPO/$d" "$TESTROOT/"
	done
	[ "$(id -u)" -ne 0 ] || chown -R "$PG_OS_USER": "$TESTROOT"
}
if ! as_pg_cd test -r "$REPO/test/regress.conf"; then
	log "the $PG_OS_USER user cannot read $REPO; testing a copy of the tests"
	stage_tests
fi

# pg_regress stops at the first test without an expected file.  Give such a
# test an empty one (in the copy) so that it runs, fails, and leaves its
# output in results/ to become the expected file.
add_missing_expected()
{
	local dir=$1 t
	shift
	for t in "$@"; do
		if ! compgen -G "$dir/expected/$t.out" >/dev/null &&
			! compgen -G "$dir/expected/${t}_[0-9].out" >/dev/null; then
			stage_tests
			local staged=$TESTROOT${dir#"$REPO"}
			log "no expected output for $t: it will fail; see results/$t.out"
			mkdir -p "$staged/expected"
			: >"$staged/expected/$t.out"
			[ "$(id -u)" -ne 0 ] || chown -R "$PG_OS_USER": "$staged/expected"
		fi
	done
}

# count_results LOGFILE: pg_regress's per-test verdicts as "passed failed"
# (PostgreSQL 15 prints "test name ... ok"; 16 and later print TAP lines).
count_results()
{
	awk '
		/ \.\.\. ok / || / \.\.\. failed \(ignored\)/ || /^ok [0-9]/ { p++ }
		/ \.\.\. FAILED/ || /^not ok [0-9]/ { f++ }
		END { print p + 0, f + 0 }' "$1"
}

# run_regress KIND DRIVER INPUTDIR TEST...: one pg_regress-style suite.
run_regress()
{
	local kind=$1 driver=$2 inputdir=$3 out=$SCRATCH/$1 rc=0 p f
	shift 3
	log "$kind: $*"
	mkdir -p "$out"
	[ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER": "$out"
	(cd "$SCRATCH" && as_pg env -u TEMP_CONFIG PATH="$PG_BINDIR:$PATH" \
		"$driver" \
		--temp-instance="$out/tmp_check" \
		--temp-config="$TESTROOT/test/regress.conf" \
		--inputdir="$inputdir" \
		--outputdir="$out" \
		--bindir="$PG_BINDIR" \
		--no-locale --encoding=UTF8 \
		--dbname=contrib_regression \
		"$@") 2>&1 | tee "$SCRATCH/$kind.stdout" || rc=$?
	read -r p f < <(count_results "$SCRATCH/$kind.stdout")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1						# the driver itself failed
	fi
	passed=$((passed + p))
	failed=$((failed + f))

	# Keep what a developer needs: results/ to update expected files, the
	# diffs, and the server log.
	local dest=$REPO
	[ "$kind" = regress ] || dest=$REPO/output_iso
	mkdir -p "$dest"
	rm -rf "$dest/results" "$dest/log" "$dest/regression.diffs" "$dest/regression.out"
	local item
	for item in results log regression.diffs regression.out; do
		[ ! -e "$out/$item" ] || cp -R "$out/$item" "$dest/"
	done
	if [ -s "$out/regression.diffs" ]; then
		echo "---------------- $kind: regression.diffs ----------------"
		cat "$out/regression.diffs"
		echo "---------------- (copied to $dest/regression.diffs) ----------------"
	fi
	# A crashed or unstartable server explains failures better than diffs.
	if [ "$rc" -ne 0 ] && [ -f "$out/log/postmaster.log" ] &&
		grep -qE 'terminated by signal|PANIC|TRAP:' "$out/log/postmaster.log"; then
		echo "---------------- $kind: postmaster.log (excerpt) ----------------"
		grep -E -B3 -A3 'terminated by signal|PANIC|TRAP:' "$out/log/postmaster.log" | head -n 80
	fi
}

# --- build -----------------------------------------------------------------
# objects built with an old header would disagree with the others on the
# layout of its structs
log "build: a changed header rebuilds every object that includes it"
if "$REPO/test/harness/header_deps.sh"; then
	passed=$((passed + 1))
else
	failed=$((failed + 1))
fi

# --- pg_regress ------------------------------------------------------------
shopt -s nullglob
regress=()
if [ -n "${REGRESS:-}" ]; then
	read -r -a regress <<<"$REGRESS"
else
	for f in "$REPO"/sql/*.sql; do
		regress+=("$(basename "$f" .sql)")
	done
fi
[ "${regress[*]}" != none ] || regress=()
if [ ${#regress[@]} -gt 0 ]; then
	# sql/readme.sql runs the README's examples: it must be the README's
	log "regress: sql/readme.sql matches README.md"
	if "$REPO/test/harness/readme_sql.sh" --check; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	add_missing_expected "$REPO" "${regress[@]}"
	run_regress regress "$PGXS_DIR/src/test/regress/pg_regress" \
		"$TESTROOT" "${regress[@]}"
else
	log "regress: no tests, skipped"
fi

# --- isolation -------------------------------------------------------------
isolation=()
if [ -n "${ISOLATION:-}" ]; then
	read -r -a isolation <<<"$ISOLATION"
else
	for f in "$REPO"/test/isolation/specs/*.spec; do
		isolation+=("$(basename "$f" .spec)")
	done
fi
[ "${isolation[*]}" != none ] || isolation=()
if [ ${#isolation[@]} -gt 0 ]; then
	add_missing_expected "$REPO/test/isolation" "${isolation[@]}"
	run_regress isolation "$PGXS_DIR/src/test/isolation/pg_isolation_regress" \
		"$TESTROOT/test/isolation" "${isolation[@]}"
fi

# --- TAP -------------------------------------------------------------------
# Same environment as PGXS's prove_installcheck: TESTDIR, PATH with the
# server binaries first, PGPORT, PG_REGRESS, and the PostgreSQL::Test modules.
tap=()
if [ -n "${PROVE_TESTS:-}" ]; then
	read -r -a tap <<<"$PROVE_TESTS"
else
	for f in "$REPO"/test/t/*.pl; do
		tap+=("t/$(basename "$f")")
	done
fi
[ "${tap[*]}" != none ] || tap=()
if [ ${#tap[@]} -gt 0 ]; then
	mkdir -p "$SCRATCH/tap"
	[ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER": "$SCRATCH/tap"
	# the libraries of released versions, for the tests of update paths
	released=
	for t in "${tap[@]}"; do
		if grep -q CONTINUOUS_RELEASED_DIR "$REPO/test/$t" 2>/dev/null; then
			released=$SCRATCH/released
		fi
	done
	if [ -n "$released" ] && ! "$REPO/test/harness/released.sh" "$released"; then
		log "the libraries of released versions could not be built"
		failed=$((failed + 1))
	fi
	for t in "${tap[@]}"; do
		log "tap: $t"
		if (cd "$TESTROOT/test" &&
			as_pg env -u TEMP_CONFIG \
				TESTDIR="$SCRATCH/tap" \
				PATH="$PG_BINDIR:$PATH" \
				PGPORT=65432 \
				CONTINUOUS_RELEASED_DIR="$released" \
				PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
				PERL5LIB="$PGXS_DIR/src/test/perl${PERL5LIB:+:$PERL5LIB}" \
				prove -I "$PGXS_DIR/src/test/perl/" -I perl -I . \
				${PROVE_FLAGS:-} "$t"); then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			name=$(basename "$t" .pl)
			rlog=$SCRATCH/tap/tmp_check/log/regress_log_$name
			if [ -f "$rlog" ]; then
				echo "---------------- $t: end of regress_log_$name ----------------"
				tail -n 80 "$rlog"
			fi
		fi
	done
	rm -rf "$REPO/tmp_check"
	if [ -d "$SCRATCH/tap/tmp_check/log" ]; then
		mkdir -p "$REPO/tmp_check"
		cp -R "$SCRATCH/tap/tmp_check/log" "$REPO/tmp_check/"
		log "TAP logs copied to $REPO/tmp_check/log"
	fi
else
	log "tap: no tests, skipped"
fi

# --- fuzzers ---------------------------------------------------------------
# The Kafka message decoders under libFuzzer (test/fuzz/run.sh), each for
# FUZZ_SECONDS (default 15) from its seed corpus; FUZZ=none skips them.
if [ "${FUZZ:-}" != none ]; then
	fuzz_seconds=${FUZZ_SECONDS:-15}
	log "fuzz: $fuzz_seconds s per decoder"
	FUZZ_SECONDS=$fuzz_seconds "$REPO/test/fuzz/run.sh" 2>&1 |
		tee "$SCRATCH/fuzz.stdout" || true
	p=$(grep -c '^fuzz_[a-z]* ok$' "$SCRATCH/fuzz.stdout" || true)
	f=$(grep -c '^fuzz_[a-z]* FAILED' "$SCRATCH/fuzz.stdout" || true)
	[ "$p" -gt 0 ] || [ "$f" -gt 0 ] || f=1	# the harness itself failed
	passed=$((passed + p))
	failed=$((failed + f))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
