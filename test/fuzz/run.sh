#!/bin/bash
# test/fuzz/run.sh: build and run the Kafka payload fuzzers (libFuzzer with
# AddressSanitizer and UBSan) for a bounded time each.
#
#   fuzz_csv    src/source/kafka/kafka_csv.c, the CSV field splitter (plain C)
#   fuzz_shortcuts  src/source/kafka/kafka_shortcuts.c, the timestamp and decimal shortcuts
#   fuzz_json   src/source/kafka/kafka_json.c, JSON field collection, built frontend-side
#               against PostgreSQL 15's libpgcommon (its JSON parser), with its fast
#               way (kafka_json_validate.cpp, simdjson)
#
# Environment: FUZZ_SECONDS (default 60) per fuzzer, FUZZERS (default
# "csv shortcuts json"), FUZZ_JOBS (default 1) parallel workers per fuzzer.  The seed
# corpus in test/fuzz/corpus/ is only read; the grown corpus and any crash
# reproducers go to test/fuzz/build/.  Installs what it needs with
# test/harness/deps.sh.  Prints "fuzz_NAME ok" or "fuzz_NAME FAILED" for each
# fuzzer (`make test` counts these lines); exit status non-zero if one failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=$HERE/build
SECONDS_EACH=${FUZZ_SECONDS:-60}
FUZZERS=${FUZZERS:-csv shortcuts json}
JOBS=${FUZZ_JOBS:-1}
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}

"$REPO/test/harness/deps.sh" --fuzzers
CC=$(command -v clang-14 || command -v clang || true)
CXX=$(command -v clang++-14 || command -v clang++ || true)
[ -n "$CC" ] && ls "$("$CC" -print-resource-dir)"/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
	{ echo "no clang with a libFuzzer runtime" >&2; exit 1; }

PGINC=$("$PG_CONFIG" --includedir-server)
# Debian keeps the static libraries with the server's modules
PGLIB=$("$PG_CONFIG" --libdir)
[ -f "$PGLIB/libpgcommon.a" ] || PGLIB=$("$PG_CONFIG" --pkglibdir)
FLAGS="-g -O1 -Wno-ignored-attributes -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I$REPO/src"

mkdir -p "$BUILD"
"$CC" $FLAGS -o "$BUILD/fuzz_csv" "$HERE/fuzz_csv.c" "$REPO/src/source/kafka/kafka_csv.c"
"$CC" $FLAGS -o "$BUILD/fuzz_shortcuts" "$HERE/fuzz_shortcuts.c" "$REPO/src/source/kafka/kafka_shortcuts.c"
# PostgreSQL 15's frontend jsonapi.o is in libpgcommon.a; json_errdetail() is not.
# The fast way's check is C++ over simdjson, instrumented too (the library
# itself is Debian's).
"$CXX" $FLAGS -std=c++17 -c -o "$BUILD/kafka_json_validate.o" \
	"$REPO/src/source/kafka/kafka_json_validate.cpp"
"$CC" $FLAGS -DFRONTEND -I"$PGINC" -I"$("$PG_CONFIG" --includedir)/internal" \
	-c -o "$BUILD/fuzz_json.o" "$HERE/fuzz_json.c"
"$CC" $FLAGS -DFRONTEND -I"$PGINC" -I"$("$PG_CONFIG" --includedir)/internal" \
	-c -o "$BUILD/kafka_json.o" "$REPO/src/source/kafka/kafka_json.c"
"$CXX" $FLAGS -o "$BUILD/fuzz_json" "$BUILD/fuzz_json.o" "$BUILD/kafka_json.o" \
	"$BUILD/kafka_json_validate.o" "$PGLIB/libpgcommon.a" "$PGLIB/libpgport.a" -lsimdjson

# No leak check: the harnesses free everything per input anyway, and
# LeakSanitizer needs ptrace, which some containers forbid.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

# The fuzzers run at the same time, each for SECONDS_EACH, and report in
# turn: one after the other they kept `make test` waiting three times as
# long.  Each in a directory of its own: libFuzzer's -jobs writes its
# job's log to fuzz-0.log in the current directory.
for f in $FUZZERS; do
	mkdir -p "$BUILD/corpus_$f" "$BUILD/artifacts_$f" "$BUILD/run_$f"
	(cd "$BUILD/run_$f" && "$BUILD/fuzz_$f" -max_total_time="$SECONDS_EACH" \
		-max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-jobs="$JOBS" -workers="$JOBS" \
		-artifact_prefix="$BUILD/artifacts_$f/" \
		"$BUILD/corpus_$f" "$HERE/corpus/$f" >"$BUILD/fuzz_$f.log" 2>&1 || true) &
done
wait

status=0
for f in $FUZZERS; do
	echo "== fuzz_$f: $SECONDS_EACH s"
	grep -E "^(#[0-9]+ +DONE|stat::|==[0-9]+==ERROR|SUMMARY|Done)" "$BUILD/fuzz_$f.log" || true
	if grep -qE "ERROR: (AddressSanitizer|libFuzzer|UndefinedBehavior)|runtime error:|deadly signal" "$BUILD/fuzz_$f.log"; then
		echo "fuzz_$f FAILED: see $BUILD/fuzz_$f.log and $BUILD/artifacts_$f/"
		status=1
	else
		echo "fuzz_$f ok"
	fi
done
exit $status
