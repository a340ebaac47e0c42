#!/bin/bash
# test/bench/nexmark.sh: `make bench-nexmark`.  The Nexmark queries that
# continuous views express (test/nexmark/q*.sql), each on its own over the
# same generated events, on a scratch cluster with one worker:
#   - the events (test/nexmark/generate.sql: people, auctions and bids in
#     Nexmark's proportions) are loaded into the three table streams
#     (test/nexmark/schema.sql) as transactions of BENCH_TXN_ROWS events
#     (default 10,000), and the clock stops when continuous.sync() returns;
#   - `plain` loads the same events into the same tables without the
#     extension, the baseline of the ratios;
#   - each view is then compared with its SELECT run as batch SQL over the
#     tables (test/nexmark/qN.batch.sql where the SELECT cannot run as
#     batch SQL as it is): a benchmark that counted wrong stops.
# BENCH_EVENTS (default 2,000,000) events, BENCH_REPEAT (default 3) runs of
# each case, medians shown; BENCH_QUERIES (default: every q*.sql) picks
# queries by name ("q5 q11").  Events/s counts every event loaded (all
# three streams), as Nexmark does; the Flink column is the throughput per
# core that the Nexmark project publishes for Flink 1.13 (8 machines of
# 8 cores, 100 million events; github.com/nexmark/nexmark, README).
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

NEXMARK=$REPO/test/nexmark
EVENTS=${BENCH_EVENTS:-2000000}
REPEAT=${BENCH_REPEAT:-3}
TXN_ROWS=${BENCH_TXN_ROWS:-10000}

declare -A FLINK=([q0]=155020 [q1]=157940 [q2]=175210 [q3]=152120 [q4]=34330
	[q5]=22140 [q7]=12330 [q8]=146140 [q9]=14240 [q10]=57810 [q11]=39700
	[q12]=75670 [q13]=130730 [q14]=161230 [q15]=72420 [q16]=18650 [q17]=116800
	[q18]=53700 [q19]=44040 [q20]=18980 [q21]=98490 [q22]=129960)

if [ -n "${BENCH_QUERIES:-}" ]; then
	read -r -a QUERIES <<<"$BENCH_QUERIES"
else
	QUERIES=()
	for f in "$NEXMARK"/q*.sql; do
		case $f in *.batch.sql) continue ;; esac
		QUERIES+=("$(basename "$f" .sql)")
	done
	mapfile -t QUERIES < <(printf '%s\n' "${QUERIES[@]}" | sort -V)
fi

bench_server nexmark 5700 "autovacuum = off"
# the scratch cluster's files are the postgres user's; so must ours be
cp -r "$NEXMARK" "$SCRATCH/nexmark"
[ "$(id -u)" -ne 0 ] || chown -R "$PG_OS_USER": "$SCRATCH/nexmark"

log "generating $EVENTS Nexmark events"
bpsql -d postgres -c 'CREATE DATABASE nexmark'
bpsql -d nexmark -f "$SCRATCH/nexmark/generate.sql"
bpsql -d nexmark -c "SELECT nexmark_generate($EVENTS, 0.42)" >/dev/null
read -r NPERSON NAUCTION NBID <<<"$(bpsql -d nexmark -tA -F' ' -c \
	"SELECT (SELECT count(*) FROM nexmark_src_person), (SELECT count(*) FROM nexmark_src_auction),
	        (SELECT count(*) FROM nexmark_src_bid)")"
log "events: $NPERSON people, $NAUCTION auctions, $NBID bids"

: >"$SCRATCH/load.sql"
for ((lo = 0; lo < EVENTS; lo += TXN_ROWS)); do
	echo "SELECT nexmark_load($lo, $((lo + TXN_ROWS - 1)));"
done >>"$SCRATCH/load.sql"

# the SELECT of a query file: its lines but the comments
query_body() { grep -v '^[[:space:]]*--' "$NEXMARK/$1.sql"; }
batch_body()
{
	if [ -f "$NEXMARK/$1.batch.sql" ]; then
		grep -v '^[[:space:]]*--' "$NEXMARK/$1.batch.sql"
	else
		query_body "$1"
	fi
}

setup()
{
	if [ "$1" = plain ]; then
		grep -v 'continuous\.create_stream' "$SCRATCH/nexmark/schema.sql"
	else
		echo "CREATE EXTENSION pg_continuous;"
		cat "$SCRATCH/nexmark/schema.sql"
		echo "CREATE VIEW nexmark_$1 WITH (continuous) AS $(query_body "$1");"
	fi
}

teardown()
{
	[ "$1" = plain ] || echo "DROP EXTENSION pg_continuous CASCADE;"
	echo "DROP TABLE person, auction, bid, side_input;"
}

# CPU seconds the process has used, user and system
CLK_TCK=$(getconf CLK_TCK)
cpu_seconds()
{
	awk -v hz="$CLK_TCK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / hz }' "/proc/$1/stat"
}

worker_pid()
{
	local pid="" tries=0
	while [ -z "$pid" ] && [ $tries -lt 100 ]; do
		pid=$(bpsql -d nexmark -tAc "SELECT pid FROM pg_stat_activity
			WHERE backend_type = 'pg_continuous worker' AND datname = 'nexmark'")
		[ -n "$pid" ] || { sleep 0.1; tries=$((tries + 1)); }
	done
	[ -n "$pid" ] || die "no pg_continuous worker started"
	echo "$pid"
}

declare -A RATE WAIT REFUSED PERCPU
measure()
{
	local c=$1 t0 t1 t2 err differ pid="" cpu0=0 cpu1=0
	if ! err=$(setup "$c" | bpsql -d nexmark -f - 2>&1 >/dev/null); then
		REFUSED[$c]=$(grep -m1 ERROR <<<"$err" | sed 's/.*ERROR: *//')
		log "$c: refused: ${REFUSED[$c]}"
		teardown "$c" | bpsql -d nexmark -f - >/dev/null 2>&1 || true
		return
	fi
	bpsql -d nexmark -c CHECKPOINT
	if [ "$c" != plain ]; then
		pid=$(worker_pid)
		cpu0=$(cpu_seconds "$pid")
	fi
	t0=$(now_ns)
	bpsql -d nexmark -f "$SCRATCH/load.sql" >/dev/null
	t1=$(now_ns)
	[ "$c" = plain ] || bpsql -d nexmark -c "SELECT continuous.sync('10 minutes')" >/dev/null
	t2=$(now_ns)
	if [ "$c" != plain ]; then
		cpu1=$(cpu_seconds "$pid")
		PERCPU[$c]+="$(awk -v n="$EVENTS" -v s="$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { print b - a }')" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }') "
		differ=$(bpsql -d nexmark -tAc "SELECT count(*) FROM (
			(TABLE nexmark_$c EXCEPT ALL ($(batch_body "$c")))
			UNION ALL
			(($(batch_body "$c")) EXCEPT ALL TABLE nexmark_$c)) d")
		[ "$differ" = 0 ] || die "$c: the view differs from its batch query in $differ rows"
	fi
	teardown "$c" | bpsql -d nexmark -f - >/dev/null
	RATE[$c]+="$(awk -v n="$EVENTS" -v ns=$((t2 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }') "
	WAIT[$c]+="$(awk -v ns=$((t2 - t1)) 'BEGIN { printf "%.2f", ns / 1e9 }') "
	log "$c run: $(awk -v n="$EVENTS" -v ns=$((t2 - t0)) 'BEGIN { printf "%.0f events/s", n / (ns / 1e9) }')"
}

for ((rep = 1; rep <= REPEAT; rep++)); do
	for c in plain "${QUERIES[@]}"; do
		[ -z "${REFUSED[$c]:-}" ] || continue
		log "repetition $rep/$REPEAT: $c"
		measure "$c"
	done
done

echo
echo "Nexmark on pg_continuous: $EVENTS events ($NPERSON people, $NAUCTION auctions, $NBID bids),"
echo "transactions of $TXN_ROWS events, one worker, median of $REPEAT runs; every view checked"
echo "against its batch query.  events/s: from the start of the load until sync() returned;"
echo "ratio: to loading the same events into plain tables; per worker CPU s: events over the"
echo "worker's CPU time (user + system), the figure to hold against Flink's per core."
echo
printf '%-6s %12s %7s %10s %18s %16s\n' query "events/s" ratio "sync wait" "per worker CPU s" "Flink per core"
printf '%-6s %12s %7s %10s %18s %16s\n' ------ ------------ ------- ---------- ------------------ ----------------
base=$(median "${RATE[plain]}")
printf '%-6s %12s %7s %10s %18s %16s\n' plain "$base" 1.00 "" "" ""
for c in "${QUERIES[@]}"; do
	if [ -n "${REFUSED[$c]:-}" ]; then
		printf '%-6s refused: %s\n' "$c" "${REFUSED[$c]}"
		continue
	fi
	r=$(median "${RATE[$c]}")
	printf '%-6s %12s %7s %10s %18s %16s\n' "$c" "$r" \
		"$(awk -v a="$r" -v b="$base" 'BEGIN { printf "%.2f", a / b }')" \
		"$(median "${WAIT[$c]}") s" "$(median "${PERCPU[$c]}")" "${FLINK[$c]:-}"
done
