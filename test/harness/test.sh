#!/bin/bash
# test/harness/test.sh: `make test`.  Installs missing packages, builds and
# installs the extension, then runs the Makefile's test suites with PGXS's
# own installcheck target, each suite a make of its own:
#   - REGRESS: pg_regress over sql/*.sql against expected/*.out (sql/readme.sql
#     is the README's examples: test/harness/readme_sql.sh checks it is current),
#   - ISOLATION: pg_isolation_regress over test/isolation/specs/*.spec,
#   - TAP_TESTS: prove over test/t/*.pl (with the libraries of released
#     versions, test/harness/released.sh, for the tests that use them),
# and the Kafka message decoders' fuzzers (test/fuzz), briefly.  Before
# them, test/harness/header_deps.sh checks that a changed header rebuilds
# every object that includes it.  The TAP tests keep both cores busy; the
# other suites each run on one core, so they run beside the TAP tests, one
# after another, and their output is shown once the TAP tests are done.
#
# This script does what PGXS cannot.  installcheck expects a running server:
# here pg_regress starts a temporary one for its suite, configured by
# test/regress.conf (preloaded, wal_level = logical), from --temp-instance
# and --temp-config in EXTRA_REGRESS_OPTS.  Servers refuse to run as root, so
# the suites run as an unprivileged user (postgres when invoked as root), in
# a copy of the tests that this user owns, in a scratch directory under /tmp:
# PGXS writes its output beside the tests.  Results, diffs and logs are
# copied back into the repository (results/, regression.diffs, log/,
# output_iso/, tmp_check/log/).  Each suite is a make of its own, so that a
# failing suite does not stop the next one.
# The last line of output is "N passed, N failed"; the exit status is non-zero
# if anything failed.  REGRESS, ISOLATION and PROVE_TESTS (e.g.
# PROVE_TESTS=t/000_lifecycle.pl) pick tests, and PROVE_FLAGS passes options
# to prove, as in PGXS (by default the TAP tests run one per core, up to
# four at a time); "none" skips a suite, and FUZZ=none skips the fuzzers.
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
# the suites run beside the TAP tests are a process group of their own
# (below): if this script ends early, they end with it
one_core_pid=
trap '[ -z "$one_core_pid" ] || kill -- -"$one_core_pid" 2>/dev/null; rm -rf "$SCRATCH"' EXIT

shopt -s nullglob

# tally PASSED FAILED: counted for the last line; the suites that run in
# the background count here too.
tally()
{
	echo "$1 $2" >>"$SCRATCH/tally"
}

# The copy: the Makefile, which names the tests, and the tests.  Not the
# build products: installcheck tests the installed extension; but the Kafka
# tools in test/kafka, which the TAP tests run.
TESTROOT=$SCRATCH/src
mkdir -p "$TESTROOT"
tar -C "$REPO" --exclude=test/fuzz/build -cf - Makefile sql expected test contrib |
	tar -C "$TESTROOT" -xf -

# pg_regress stops at the first test without an expected file.  Give such a
# test an empty one (in the copy) so that it runs, fails, and leaves its
# output in results/ to become the expected file.
add_missing_expected()
{
	local inputdir=$1 subdir=$2 ext=$3 f t
	for f in "$inputdir/$subdir"/*."$ext"; do
		t=$(basename "$f" ".$ext")
		if ! compgen -G "$inputdir/expected/$t.out" >/dev/null &&
			! compgen -G "$inputdir/expected/${t}_[0-9].out" >/dev/null; then
			log "no expected output for $t: if run, it fails; see its results/$t.out"
			mkdir -p "$inputdir/expected"
			: >"$inputdir/expected/$t.out"
		fi
	done
}
add_missing_expected "$TESTROOT" sql sql
add_missing_expected "$TESTROOT/test/isolation" specs spec
[ "$(id -u)" -ne 0 ] || chown -R "$PG_OS_USER": "$TESTROOT"

# installcheck SUITE VAR=VALUE...: PGXS's installcheck in the copy, as the
# server user; its output is also left in $SCRATCH/SUITE.stdout.  The variables of
# the `make test` that runs this script stay out (MAKEFLAGS): the arguments
# say which suite runs.
installcheck()
{
	local rc=0 suite=$1
	shift
	(cd "$TESTROOT" && as_pg env -u TEMP_CONFIG -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		PATH="$PG_BINDIR:$PATH" \
		"$MAKE" -s installcheck PG_CONFIG="$PG_CONFIG" "$@") 2>&1 |
		tee "$SCRATCH/$suite.stdout" || rc=$?
	return "$rc"
}

# suite_args VAR: the make argument that selects a suite's tests, for the
# array "args": none when the knob is unset (the Makefile's default, every
# test), VAR=VALUE when it is set.  Fails for "none": the suite is skipped.
suite_args()
{
	args=()
	[ "${!1-}" != none ] || return 1
	[ -z "${!1+set}" ] || args=("$1=${!1}")
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

# run_regress KIND ARG...: one pg_regress-style suite, regress or isolation,
# with its temporary instance where PGXS's check target would put it; the
# other suites are emptied, this one is the Makefile's unless ARG names it.
run_regress()
{
	local kind=$1 rc=0 p f out tmp others
	shift
	if [ "$kind" = regress ]; then
		out=$TESTROOT tmp=tmp_check_regress others=ISOLATION=
	else
		out=$TESTROOT/output_iso tmp=tmp_check_iso others=REGRESS=
	fi
	log "$kind: ${*:-every test}"
	installcheck "$kind" "$others" TAP_TESTS= "$@" \
		EXTRA_REGRESS_OPTS="--temp-instance=$TESTROOT/$tmp --temp-config=$TESTROOT/test/regress.conf" ||
		rc=$?
	read -r p f < <(count_results "$SCRATCH/$kind.stdout")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1						# the driver itself failed
	fi
	tally "$p" "$f"

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
	tally 1 0
else
	tally 0 1
fi

# --- the suites of one core each: beside the TAP tests ---------------------
one_core_suites()
{
	# --- pg_regress --------------------------------------------------------
	if suite_args REGRESS; then
		# sql/readme.sql runs the README's examples: it must be the README's
		log "regress: sql/readme.sql matches README.md"
		if "$REPO/test/harness/readme_sql.sh" --check; then
			tally 1 0
		else
			tally 0 1
		fi
		run_regress regress "${args[@]}"
	else
		log "regress: no tests, skipped"
	fi

	# --- isolation ---------------------------------------------------------
	if suite_args ISOLATION; then
		run_regress isolation "${args[@]}"
	else
		log "isolation: no tests, skipped"
	fi

	# --- fuzzers -----------------------------------------------------------
	# The Kafka message decoders under libFuzzer (test/fuzz/run.sh), each for
	# FUZZ_SECONDS (default 15) from its seed corpus; FUZZ=none skips them.
	if [ "${FUZZ:-}" != none ]; then
		local fuzz_seconds=${FUZZ_SECONDS:-15} p f
		log "fuzz: $fuzz_seconds s per decoder"
		FUZZ_SECONDS=$fuzz_seconds "$REPO/test/fuzz/run.sh" 2>&1 |
			tee "$SCRATCH/fuzz.stdout" || true
		p=$(grep -c '^fuzz_[a-z]* ok$' "$SCRATCH/fuzz.stdout" || true)
		f=$(grep -c '^fuzz_[a-z]* FAILED' "$SCRATCH/fuzz.stdout" || true)
		[ "$p" -gt 0 ] || [ "$f" -gt 0 ] || f=1	# the harness itself failed
		tally "$p" "$f"
	fi
}
log "regress, isolation and the fuzzers run beside the TAP tests: their output follows the TAP tests'"
set -m							# a process group of its own
one_core_suites >"$SCRATCH/one_core.out" 2>&1 &
one_core_pid=$!
set +m

# --- TAP -------------------------------------------------------------------
# One prove over the suite, as PGXS's prove_installcheck runs it; its
# summary says which tests failed.
if suite_args PROVE_TESTS; then
	# The libraries of released versions, for the tests of update paths.
	# Which tests run: the Makefile's default, or the knob's names and
	# patterns, where t/NAME means test/t/NAME (as the Makefile reads it).
	read -r -a words <<<"${PROVE_TESTS:-test/t/*.pl}"
	released=
	for w in "${words[@]}"; do
		for f in "$TESTROOT"/${w/#t\//test/t/}; do
			! grep -q CONTINUOUS_RELEASED_DIR "$f" || released=$SCRATCH/released
		done
	done
	if [ -n "$released" ] && ! "$REPO/test/harness/released.sh" "$released"; then
		log "the libraries of released versions could not be built"
		tally 0 1
	fi
	export CONTINUOUS_RELEASED_DIR=$released

	# Several tests at a time, one per core up to four: a test spends most
	# of its time waiting (for its worker, a restart, a crash's recovery),
	# and one at a time the suite took over 20 minutes on two cores.
	# --timer prints each test's time.  PROVE_FLAGS, if set, says instead.
	# The whole suite starts with its longest tests, so that it does not
	# end with one of them running alone.
	jobs=$(nproc 2>/dev/null || echo 1)
	[ "$jobs" -le 4 ] || jobs=4
	if [ "${PROVE_TESTS:-test/t/*.pl}" = "test/t/*.pl" ]; then
		ordered=
		for t in 052_large_transaction_parts 028_dump_restore 051_large_transaction_spill \
			040_early_aggregation 036_flush_locations 034_transforms; do
			[ ! -f "$TESTROOT/test/t/$t.pl" ] || ordered="$ordered test/t/$t.pl"
		done
		for f in "$TESTROOT"/test/t/*.pl; do
			t=test/t/$(basename "$f")
			case "$ordered " in *" $t "*) ;; *) ordered="$ordered $t" ;; esac
		done
		args=("PROVE_TESTS=${ordered# }")
	fi
	log "tap: ${PROVE_TESTS:-every test}"
	rc=0
	installcheck tap REGRESS= ISOLATION= "${args[@]}" \
		PROVE_FLAGS="${PROVE_FLAGS-"-j$jobs --timer"}" || rc=$?
	# "Files=N, Tests=M, ..." then, after "Test Summary Report", a line
	# "test/t/NAME.pl (Wstat: ...)" per failed test
	awk '
		/^Test Summary Report/ { report = 1 }
		report && /^[^ ].*\.pl \(Wstat: / { print $1 }' "$SCRATCH/tap.stdout" >"$SCRATCH/tap.failed"
	files=$(sed -n 's/^Files=\([0-9]*\),.*/\1/p' "$SCRATCH/tap.stdout")
	f=$(wc -l <"$SCRATCH/tap.failed")
	p=$((${files:-0} - f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1						# prove itself failed
	fi
	tally "$p" "$f"
	while read -r t; do
		name=$(basename "$t" .pl)
		rlog=$TESTROOT/tmp_check/log/regress_log_$name
		if [ -f "$rlog" ]; then
			echo "---------------- $t: end of regress_log_$name ----------------"
			tail -n 80 "$rlog"
		fi
	done <"$SCRATCH/tap.failed"
	rm -rf "$REPO/tmp_check"
	if [ -d "$TESTROOT/tmp_check/log" ]; then
		mkdir -p "$REPO/tmp_check"
		cp -R "$TESTROOT/tmp_check/log" "$REPO/tmp_check/"
		log "TAP logs copied to $REPO/tmp_check/log"
	fi
else
	log "tap: no tests, skipped"
fi

# --- the suites that ran beside ---------------------------------------------
wait "$one_core_pid" || tally 0 1
one_core_pid=
cat "$SCRATCH/one_core.out"

read -r passed failed < <(awk '{ p += $1; f += $2 } END { print p + 0, f + 0 }' "$SCRATCH/tally")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
