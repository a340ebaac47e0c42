#!/bin/bash
# test/bench/backfill.sh: part of `make bench`.  The rate of a backfill:
# CREATE VIEW ... WITH (continuous) over a table stream that already holds
# BENCH_BACKFILL_ROWS rows (default 2,000,000), against the same SELECT run
# as a batch GROUP BY into a table over the same rows in the same run (the
# baseline).  Two views: 1,000 groups (a plain GROUP BY) and about 330,000
# groups (a 1-minute tumbling window by key).  Each is timed BENCH_REPEAT
# times (default 3); it prints the medians, rows per second, and the ratio
# backfill / batch.  Also continuous.rebuild() of the first view.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

ROWS=${BENCH_BACKFILL_ROWS:-2000000}
REPEAT=${BENCH_REPEAT:-3}

bench_server backfill-bench 5660

bpsql -d postgres <<SQL
CREATE EXTENSION pg_continuous;
CREATE TABLE events (user_id int, value int, ts timestamptz NOT NULL);
INSERT INTO events
SELECT i % 1000, i % 997, timestamptz '2024-01-01 00:00:00+00' + i * interval '10 ms'
  FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE events;
SELECT continuous.create_stream('events', event_time => 'ts');
SQL

ms_of()
{
	local start end
	start=$(now_ns)
	bpsql -d postgres -c "$1" >/dev/null
	end=$(now_ns)
	echo $(((end - start) / 1000000))
}

declare -A SELECTS=(
	[keys_1000]="SELECT user_id, count(*) AS n, sum(value) AS s, max(ts) AS last FROM events GROUP BY user_id"
	[minute_keys]="SELECT continuous.tumble(ts, '1 minute') AS minute, user_id % 100 AS k, count(*) AS n, avg(value) AS a FROM events GROUP BY minute, k"
)

log "$ROWS rows; medians of $REPEAT runs"
printf '%-20s %12s %12s %14s %8s\n' view "batch ms" "backfill ms" "rows/s" ratio
for view in keys_1000 minute_keys; do
	batch=() backfill=()
	for ((r = 0; r < REPEAT; r++)); do
		batch+=("$(ms_of "CREATE TABLE b AS ${SELECTS[$view]}; DROP TABLE b")")
		backfill+=("$(ms_of "CREATE VIEW $view WITH (continuous) AS ${SELECTS[$view]}")")
		[ "$r" -eq $((REPEAT - 1)) ] || bpsql -d postgres -c "DROP VIEW $view"
	done
	b=$(median "${batch[*]}")
	f=$(median "${backfill[*]}")
	printf '%-20s %12s %12s %14s %8s\n' "$view" "$b" "$f" "$((ROWS * 1000 / (f > 0 ? f : 1)))" \
		"$(awk -v f="$f" -v b="$b" 'BEGIN { printf "%.1f", f / (b > 0 ? b : 1) }')"
done

rebuild=()
for ((r = 0; r < REPEAT; r++)); do
	rebuild+=("$(ms_of "SELECT continuous.rebuild('keys_1000')")")
done
f=$(median "${rebuild[*]}")
printf '%-20s %12s %12s %14s\n' "rebuild keys_1000" "" "$f" "$((ROWS * 1000 / (f > 0 ? f : 1)))"

check=$(bpsql -d postgres -tAc "SELECT sum(n) FROM keys_1000")
[ "$check" = "$ROWS" ] || die "the view counted $check rows, expected $ROWS"
