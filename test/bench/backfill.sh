#!/bin/bash
# test/bench/backfill.sh: part of `make bench`.  The rate of a backfill:
# CREATE VIEW ... WITH (continuous) over a table stream that already holds
# BENCH_BACKFILL_ROWS rows (default 2,000,000), against the same SELECT run
# as a batch GROUP BY into a table over the same rows in the same run (the
# baseline).  Three views: 1,000 groups (a plain GROUP BY), 33,300 groups (a
# 1-minute tumbling window by key) and BENCH_BACKFILL_KEYS groups (default
# 200,000, a plain GROUP BY).  Each is timed BENCH_REPEAT times (default 3);
# it prints the medians, rows per second, the ratio backfill / batch, and
# the median peak growth of the backend's private memory (RssAnon, sampled
# every 20 ms while the statement runs: shared buffers are not in it).
# Also continuous.rebuild() of the first view.  BENCH_CONF adds a line to
# the server's postgresql.conf, as in table_streams.sh.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

ROWS=${BENCH_BACKFILL_ROWS:-2000000}
KEYS=${BENCH_BACKFILL_KEYS:-200000}
REPEAT=${BENCH_REPEAT:-3}

bench_server backfill-bench 5660 ${BENCH_CONF:+"$BENCH_CONF"}

bpsql -d postgres <<SQL
CREATE EXTENSION pg_continuous;
CREATE TABLE events (user_id int, value int, ts timestamptz NOT NULL, g int);
INSERT INTO events
SELECT i % 1000, i % 997, timestamptz '2024-01-01 00:00:00+00' + i * interval '10 ms', i % $KEYS
  FROM generate_series(1, $ROWS) i;
VACUUM ANALYZE events;
SELECT continuous.create_stream('events', event_time => 'ts');
SQL

# kB of private memory of backend $1 now
rss_anon()
{
	awk '/^RssAnon:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true
}

# measure STATEMENT: "ms kB", the statement's time (psql's \timing) and how
# far its backend's RssAnon rose above what it was before the statement.
measure()
{
	local out=$SCRATCH/measure.out pid="" psql_pid base peak v
	bpsql -tA -c '\timing on' -c 'SELECT pg_backend_pid()' -c "$1" >"$out" &
	psql_pid=$!
	while [ -z "$pid" ] && kill -0 "$psql_pid" 2>/dev/null; do
		pid=$(grep -m1 -x '[0-9][0-9]*' "$out" || true)
		[ -n "$pid" ] || sleep 0.005
	done
	base=$(rss_anon "$pid")
	peak=${base:-0}
	while kill -0 "$psql_pid" 2>/dev/null; do
		v=$(rss_anon "$pid")
		[ -z "$v" ] || [ "$v" -le "$peak" ] || peak=$v
		sleep 0.02
	done
	wait "$psql_pid" || die "failed: $1"
	echo "$(sed -n 's/^Time: \([0-9]*\).*/\1/p' "$out" | tail -n 1) $((peak - ${base:-0}))"
}

declare -A SELECTS=(
	[keys_1000]="SELECT user_id, count(*) AS n, sum(value) AS s, max(ts) AS last FROM events GROUP BY user_id"
	[keys_$KEYS]="SELECT g, count(*) AS n, sum(value) AS s, max(ts) AS last FROM events GROUP BY g"
	[minute_keys]="SELECT continuous.tumble(ts, '1 minute') AS minute, user_id % 100 AS k, count(*) AS n, avg(value) AS a FROM events GROUP BY minute, k"
)

# row NAME GROUPS BATCH_MS BACKFILL_MS BATCH_KB BACKFILL_KB
row()
{
	local ratio="" rate=$((ROWS * 1000 / ($4 > 0 ? $4 : 1)))
	[ -z "$3" ] || ratio=$(awk -v f="$4" -v b="$3" 'BEGIN { printf "%.2f", f / (b > 0 ? b : 1) }')
	printf '%-22s %8s %9s %12s %10s %6s %9s %12s\n' "$1" "$2" "$3" "$4" "$rate" "$ratio" "$5" "$6"
}

log "$ROWS rows; medians of $REPEAT runs; kB: how far the backend's RssAnon rose"
printf '%-22s %8s %9s %12s %10s %6s %9s %12s\n' view groups "batch ms" "backfill ms" rows/s ratio \
	"batch kB" "backfill kB"
for view in keys_1000 minute_keys "keys_$KEYS"; do
	batch=() backfill=() batch_kb=() backfill_kb=()
	for ((r = 0; r < REPEAT; r++)); do
		m=$(measure "CREATE TABLE b AS ${SELECTS[$view]}")
		bpsql -d postgres -c "DROP TABLE b"
		batch+=("${m% *}") batch_kb+=("${m#* }")
		m=$(measure "CREATE VIEW $view WITH (continuous) AS ${SELECTS[$view]}")
		backfill+=("${m% *}") backfill_kb+=("${m#* }")
		[ "$r" -eq $((REPEAT - 1)) ] || bpsql -d postgres -c "DROP VIEW $view"
	done
	row "$view" "$(bpsql -d postgres -tAc "SELECT count(*) FROM $view")" \
		"$(median "${batch[*]}")" "$(median "${backfill[*]}")" \
		"$(median "${batch_kb[*]}")" "$(median "${backfill_kb[*]}")"
	check=$(bpsql -d postgres -tAc "SELECT sum(n) FROM $view")
	[ "$check" = "$ROWS" ] || die "$view counted $check rows, expected $ROWS"
done

for view in keys_1000 "keys_$KEYS"; do
	rebuild=() rebuild_kb=()
	for ((r = 0; r < REPEAT; r++)); do
		m=$(measure "SELECT continuous.rebuild('$view')")
		rebuild+=("${m% *}") rebuild_kb+=("${m#* }")
	done
	row "rebuild $view" "" "" "$(median "${rebuild[*]}")" "" "$(median "${rebuild_kb[*]}")"
	check=$(bpsql -d postgres -tAc "SELECT sum(n) FROM $view")
	[ "$check" = "$ROWS" ] || die "the rebuilt $view counted $check rows, expected $ROWS"
done
