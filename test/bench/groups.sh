#!/bin/bash
# test/bench/groups.sh: `make bench-groups`.  The many-groups workloads,
# each a run of table_streams.sh (whose table it prints) with one windowed
# view by user and minute (case window1) against a plain table, and the
# same groups written once by batch SQL into a keyed table (case batch1,
# the floor of storing a row per group under a unique index):
#   100,000 users, event times in load order
#   1,000,000 users, event times in load order
#   20,000 users, event times spread at random over 18 hours
# and one COPY of 5,000,000 rows over 1,000 users with 1 and 5 views
# (stream1, stream5).  BENCH_REPEAT and BENCH_TIMEOUT pass through.
set -euo pipefail

bench=$(dirname "${BASH_SOURCE[0]}")/table_streams.sh

BENCH_KEYS=100000 BENCH_CASES="plain batch1 window1" "$bench"
BENCH_KEYS=1000000 BENCH_CASES="plain batch1 window1" "$bench"
BENCH_KEYS=20000 BENCH_SPREAD='18 hours' BENCH_CASES="plain batch1 window1" "$bench"
BENCH_EVENTS=5000000 BENCH_MODES=copy BENCH_CASES="plain stream1 stream5" "$bench"
