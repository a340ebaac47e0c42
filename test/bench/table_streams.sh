#!/bin/bash
# test/bench/table_streams.sh: `make bench`.  Write throughput of table
# streams against the alternatives, on a scratch cluster, with the same
# generated events for every case:
#   plain     a plain table
#   stream1   a stream table with 1 continuous view
#   stream5   a stream table with 5 continuous views
#   transform a stream table with 1 continuous transform (no aggregates:
#             each event's projected row appended to its storage)
#   window1   a stream table with 1 continuous view by key and 1-minute
#             window (about as many groups as events with many keys)
#   trigger   a plain table with a per-row plpgsql trigger that upserts a
#             per-key count/sum summary table
#   batch1    a plain table, then window1's query run once over it as batch
#             SQL, its groups in key order into a table keyed as window1's
#             storage is (a primary key on window and user): what PostgreSQL
#             itself takes to write the groups a view of many groups writes,
#             the floor of keeping such a view by any means that stores a
#             row per group under a unique index
#   join1     stream1's view joined to a table of 100,000 rows by its key
#             (a lookup join, stage_lookup_join.c); the table's end line
#             gives join1 / stream1, the median of the ratios of the runs
#             of one repetition (paired)
# each loaded twice: as transactions of BENCH_TXN_ROWS rows (INSERT ... SELECT
# from a source table) and as one COPY of all rows (BENCH_MODES, default
# "txn copy", picks the loads).  For the stream cases the
# clock stops when continuous.sync('10 minutes') returns, i.e. when the views
# show every event; the worker's CPU seconds over the run are shown too,
# being less moved than the wall clock by the machine's other load, and
# its peak private memory (RssAnon, sampled every 20 ms: its heap, not
# the shared buffers it touched), against continuous.state_memory.  Each
# measurement runs BENCH_REPEAT times (default 3); the table shows medians.  BENCH_EVENTS (default 2000000) sets the event count;
# BENCH_CASES (default "plain stream1 stream5 window1 transform trigger
# join1") picks cases, and BENCH_KEYS (default 1000) the number of distinct
# user_id values.  Event times are 1 ms apart in load order, or, with
# BENCH_SPREAD set to an interval ('18 hours'), drawn at random within it.
# A run that takes longer than BENCH_TIMEOUT seconds (default 300) is
# stopped and its case reported as slower than that bound, not repeated.
# BENCH_CONF adds a line to the server's postgresql.conf (to compare a
# setting: BENCH_CONF='continuous.aggregate_before_commit = off').
# BENCH_PROFILE=DIR records the worker of each stream case's run with
# `perf record` (BENCH_PROFILE_HZ samples a second, default 499) into
# DIR/CASE-MODE-REP.data, from the start of the load until sync() returns.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

EVENTS=${BENCH_EVENTS:-2000000}
REPEAT=${BENCH_REPEAT:-3}
TXN_ROWS=${BENCH_TXN_ROWS:-10000}
TIMEOUT=${BENCH_TIMEOUT:-300}
PROFILE=${BENCH_PROFILE:-}
KEYS=${BENCH_KEYS:-1000}
SPREAD=${BENCH_SPREAD:-}

bench_server bench 5600 "autovacuum = off" ${BENCH_CONF:+"$BENCH_CONF"}

log "generating $EVENTS events ($KEYS keys${SPREAD:+, event times spread over $SPREAD})"
bpsql -d postgres -c 'CREATE DATABASE bench'
bpsql -d bench >/dev/null <<EOF
SELECT setseed(0.42);
CREATE UNLOGGED TABLE src AS
SELECT i::bigint AS id,
       1 + floor(random() * $KEYS)::int AS user_id,
       floor(random() * 1000)::int AS value,
       random() * 100 AS amount,
       timestamptz '2024-01-01 00:00:00+00' +
         $( [ -n "$SPREAD" ] && echo "random() * interval '$SPREAD'" || echo "i * interval '1 millisecond'" ) AS ts
  FROM generate_series(1, $EVENTS) i;
CREATE INDEX ON src (id);
VACUUM ANALYZE src;
COPY src (user_id, value, amount, ts) TO '$SCRATCH/events.copy';
EOF

# The two load scripts.
: >"$SCRATCH/load_txn.sql"
for ((lo = 1; lo <= EVENTS; lo += TXN_ROWS)); do
	echo "INSERT INTO events SELECT user_id, value, amount, ts FROM src WHERE id BETWEEN $lo AND $((lo + TXN_ROWS - 1));"
done >>"$SCRATCH/load_txn.sql"
echo "COPY events FROM '$SCRATCH/events.copy';" >"$SCRATCH/load_copy.sql"

TABLE_SQL="CREATE TABLE events (user_id int, value int, amount float8, ts timestamptz NOT NULL);"

VIEW1="CREATE VIEW v1 WITH (continuous) AS
  SELECT user_id, count(*) AS c, sum(value) AS s, avg(amount) AS a,
         min(value) AS mn, max(value) AS mx
    FROM events GROUP BY user_id;"
VIEWS2TO5="
CREATE VIEW v2 WITH (continuous) AS
  SELECT count(*) AS c, sum(amount) AS s, max(ts) AS last FROM events;
CREATE VIEW v3 WITH (continuous) AS
  SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, avg(amount) AS a
    FROM events GROUP BY minute;
CREATE VIEW v4 WITH (continuous) AS
  SELECT user_id, count(*) AS c, max(amount) AS mx
    FROM events WHERE value > 500 GROUP BY user_id;
CREATE VIEW v5 WITH (continuous) AS
  SELECT user_id % 10 AS bucket, count(*) AS c, sum(amount) AS s, stddev(amount) AS sd
    FROM events GROUP BY bucket;"

# v1, joined: the same groups and counts, one more column read from users
JOIN_SQL="
CREATE TABLE users (id int PRIMARY KEY, tier int NOT NULL);
INSERT INTO users SELECT i, i % 7 FROM generate_series(1, 100000) i;
ANALYZE users;
CREATE VIEW v1 WITH (continuous) AS
  SELECT e.user_id, count(*) AS c, sum(e.value) AS s, avg(e.amount) AS a,
         min(e.value) AS mn, max(e.value) AS mx, max(u.tier) AS tier
    FROM events e JOIN users u ON u.id = e.user_id GROUP BY e.user_id;"

TRANSFORM="CREATE VIEW t1 WITH (continuous) AS
  SELECT user_id, value, amount * 2 AS amount2, ts FROM events WHERE value >= 0;"

VIEW_WINDOW="CREATE VIEW v1 WITH (continuous) AS
  SELECT continuous.tumble(ts, '1 minute') AS m, user_id, count(*) AS c,
         sum(amount) AS s
    FROM events GROUP BY 1, 2;"

# window1's groups, by batch SQL (1-minute windows are whole minutes in
# UTC), with the default work_mem: 256 MB, what continuous.state_memory
# gives the worker, made it slower here (9 to 10 s against 5 s for the
# INSERT at 100,000 and 1,000,000 keys)
BATCH_TABLE_SQL="SET TimeZone = 'UTC';
CREATE TABLE summary (m timestamptz, user_id int, c bigint NOT NULL, s float8,
                      PRIMARY KEY (m, user_id));"
BATCH_SQL="SET TimeZone = 'UTC';
INSERT INTO summary
  SELECT date_trunc('minute', ts), user_id, count(*), sum(amount)
    FROM events GROUP BY 1, 2 ORDER BY 1, 2;"

TRIGGER_SQL="
CREATE TABLE summary (user_id int PRIMARY KEY, n bigint NOT NULL, total bigint NOT NULL);
CREATE FUNCTION summary_upsert() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO summary VALUES (NEW.user_id, 1, NEW.value)
    ON CONFLICT (user_id) DO UPDATE
        SET n = summary.n + 1, total = summary.total + EXCLUDED.total;
    RETURN NULL;
END
\$\$;
CREATE TRIGGER events_summary AFTER INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION summary_upsert();"

# a stream table with the extension, before its views (event times spread
# at random are all within the watermark delay: none is late)
stream_setup()
{
	echo "CREATE EXTENSION pg_continuous; $TABLE_SQL"
	echo "SELECT continuous.create_stream('events', event_time => 'ts'${SPREAD:+, watermark_delay => '$SPREAD'});"
}

case_setup()
{
	case $1 in
		plain) echo "$TABLE_SQL" ;;
		trigger) echo "$TABLE_SQL $TRIGGER_SQL" ;;
		batch1) echo "$TABLE_SQL $BATCH_TABLE_SQL" ;;
		stream1) stream_setup; echo "$VIEW1" ;;
		stream5) stream_setup; echo "$VIEW1 $VIEWS2TO5" ;;
		window1) stream_setup; echo "$VIEW_WINDOW" ;;
		join1) stream_setup; echo "$JOIN_SQL" ;;
		transform) stream_setup; echo "$TRANSFORM" ;;
	esac
}

# Dropping the extension stops the worker, so that no decoding runs while
# the other cases are measured.
case_teardown()
{
	case $1 in
		plain) echo "DROP TABLE events;" ;;
		trigger) echo "DROP TABLE events; DROP TABLE summary; DROP FUNCTION summary_upsert();" ;;
		batch1) echo "DROP TABLE events; DROP TABLE summary;" ;;
		stream1 | stream5 | window1 | transform) echo "DROP EXTENSION pg_continuous CASCADE; DROP TABLE events;" ;;
		join1) echo "DROP EXTENSION pg_continuous CASCADE; DROP TABLE events, users;" ;;
	esac
}

declare -A RATE CATCHUP WORKER_CPU WORKER_MEMORY TIMED_OUT
read -r -a CASES <<<"${BENCH_CASES:-plain stream1 stream5 window1 transform trigger join1}"
read -r -a MODES <<<"${BENCH_MODES:-txn copy}"

# Stop a load that is still running after the time limit.
stop_load()
{
	bpsql -d postgres -tAc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'bench_load'" >/dev/null
	while [ -n "$(bpsql -d postgres -tAc "SELECT 1 FROM pg_stat_activity
		WHERE application_name = 'bench_load'")" ]; do
		sleep 0.2
	done
}

# The CPU time (user + system, in clock ticks) the database's worker has
# used so far, and its pid, as "pid ticks" (empty: no worker).  The worker's
# CPU is less moved by the machine's other load than the wall clock.
worker_cpu()
{
	local pid
	pid=$(bpsql -d bench -tAc "SELECT pid FROM pg_stat_activity
		WHERE backend_type = 'pg_continuous worker' AND datname = 'bench' LIMIT 1")
	[ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 0
	# fields 14 and 15 of /proc/PID/stat, after the command in brackets
	echo "$pid $(sed 's/.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }')"
}

# watch_worker_memory PID FILE: until FILE.stop exists, the largest
# private resident size (RssAnon, kB: its heap, not the shared buffers it
# touched) the process had, sampled every 20 ms, into FILE.
watch_worker_memory()
{
	local pid=$1 file=$2 peak=0 now
	while [ ! -e "$file.stop" ] && [ -r "/proc/$pid/status" ]; do
		now=$(awk '$1 == "RssAnon:" { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		if [ -n "$now" ] && [ "$now" -gt "$peak" ]; then
			peak=$now
			echo "$peak" >"$file"
		fi
		sleep 0.02
	done
}

# measure CASE MODE: one run; appends events/s (and sync wait, the
# worker's CPU seconds and its peak private memory) to the lists, or marks
# the case as over the time limit.
measure()
{
	local c=$1 m=$2 t0 t1 t2 check left ok=1 cpu0 cpu1 watcher="" perf_pid=""
	case_setup "$c" | bpsql -d bench -f - >/dev/null
	bpsql -d bench -c CHECKPOINT
	cpu0=$(worker_cpu)
	rm -f "$SCRATCH/worker_memory" "$SCRATCH/worker_memory.stop"
	if [ -n "$cpu0" ]; then
		watch_worker_memory "${cpu0%% *}" "$SCRATCH/worker_memory" &
		watcher=$!
		if [ -n "$PROFILE" ]; then
			# perf starts with its events off; once it acknowledges
			# "enable", it records
			mkdir -p "$PROFILE"
			rm -f "$SCRATCH/perf.ctl" "$SCRATCH/perf.ack"
			mkfifo "$SCRATCH/perf.ctl" "$SCRATCH/perf.ack"
			perf record -q --call-graph dwarf -F "${BENCH_PROFILE_HZ:-499}" -D -1 \
				--control "fifo:$SCRATCH/perf.ctl,$SCRATCH/perf.ack" \
				-o "$PROFILE/$c-$m-$rep.data" -p "${cpu0%% *}" 2>/dev/null &
			perf_pid=$!
			echo enable >"$SCRATCH/perf.ctl"
			read -r _ <"$SCRATCH/perf.ack"
		fi
	fi
	t0=$(now_ns)
	PGAPPNAME=bench_load PGOPTIONS="-c statement_timeout=${TIMEOUT}s" \
		timeout "$TIMEOUT" "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$PORT" -U postgres -d bench -f "$SCRATCH/load_$m.sql" \
		2>/dev/null || ok=0
	t1=$(now_ns)
	left=$((TIMEOUT - (t1 - t0) / 1000000000))
	if [ $ok -eq 1 ] && [ $left -gt 0 ]; then
		case $c in
			plain | trigger) ;;
			batch1) bpsql -d bench -c "SET statement_timeout = '${left}s'" -c "$BATCH_SQL" \
				>/dev/null 2>&1 || ok=0 ;;
			*) bpsql -d bench -c "SELECT continuous.sync('$left seconds')" >/dev/null 2>&1 || ok=0 ;;
		esac
	fi
	[ $left -gt 0 ] || ok=0
	t2=$(now_ns)
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
	fi
	cpu1=$(worker_cpu)
	if [ -n "$watcher" ]; then
		touch "$SCRATCH/worker_memory.stop"
		wait "$watcher" || true
	fi
	if [ $ok -eq 0 ]; then
		stop_load
		TIMED_OUT[$c/$m]=1
		log "$c/$m run: over the time limit of ${TIMEOUT}s (BENCH_TIMEOUT)"
		case_teardown "$c" | bpsql -d bench -f - >/dev/null
		return
	fi
	# Refuse to report the speed of wrong answers.
	case $c in
		stream* | window* | join1) check=$(bpsql -d bench -tAc "SELECT sum(c) FROM v1") ;;
		transform) check=$(bpsql -d bench -tAc "SELECT count(*) FROM t1") ;;
		trigger) check=$(bpsql -d bench -tAc "SELECT sum(n) FROM summary") ;;
		batch1) check=$(bpsql -d bench -tAc "SELECT sum(c) FROM summary") ;;
		*) check=$(bpsql -d bench -tAc "SELECT count(*) FROM events") ;;
	esac
	[ "$check" = "$EVENTS" ] || die "$c/$m: counted $check events, expected $EVENTS"
	case_teardown "$c" | bpsql -d bench -f - >/dev/null
	RATE[$c/$m]+="$(awk -v n="$EVENTS" -v ns=$((t2 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }') "
	CATCHUP[$c/$m]+="$(awk -v ns=$((t2 - t1)) 'BEGIN { printf "%.2f", ns / 1e9 }') "
	# the same worker before and after, or the figure means nothing
	if [ -n "$cpu0" ] && [ "${cpu0%% *}" = "${cpu1%% *}" ]; then
		WORKER_CPU[$c/$m]+="$(awk -v a="${cpu0#* }" -v b="${cpu1#* }" -v hz="$(getconf CLK_TCK)" \
			'BEGIN { printf "%.2f", (b - a) / hz }') "
		[ ! -s "$SCRATCH/worker_memory" ] ||
			WORKER_MEMORY[$c/$m]+="$(($(cat "$SCRATCH/worker_memory") / 1024)) "
	fi
	log "$c/$m run: $(awk -v n="$EVENTS" -v ns=$((t2 - t0)) 'BEGIN { printf "%.0f events/s", n / (ns / 1e9) }')"
}


for ((rep = 1; rep <= REPEAT; rep++)); do
	for m in "${MODES[@]}"; do
		for c in "${CASES[@]}"; do
			[ -z "${TIMED_OUT[$c/$m]:-}" ] || continue
			log "repetition $rep/$REPEAT: $c, $m"
			measure "$c" "$m"
		done
	done
done

shmem=$(bpsql -d bench -tAc "SELECT coalesce(sum(allocated_size), 0) FROM pg_shmem_allocations WHERE name ILIKE '%continuous%'")
state_memory=$(bpsql -d bench -tAc "SHOW continuous.state_memory" 2>/dev/null || echo '?')

echo
echo "pg_continuous table streams: $EVENTS events, $KEYS keys${SPREAD:+ (event times spread over $SPREAD)}, median of $REPEAT runs"
echo "(stream cases: until continuous.sync() returned; 'sync wait' = time from end of load to that,"
echo " for batch1 to the end of its batch SQL;"
echo " 'worker CPU' = CPU seconds the database's worker used in the run;"
echo " 'worker peak' = the most private memory (RssAnon) the worker had in the run;"
echo " '< N': a run took longer than BENCH_TIMEOUT = ${TIMEOUT}s)"
echo
printf '%-10s %-10s %14s %9s %11s %11s %12s\n' mode case "events/s" ratio "sync wait" "worker CPU" "worker peak"
printf '%-10s %-10s %14s %9s %11s %11s %12s\n' ---------- ---------- -------------- --------- ----------- ----------- ------------
for m in "${MODES[@]}"; do
	base=$(median "${RATE[plain/$m]:-}")
	for c in "${CASES[@]}"; do
		label=$m
		[ "$m" != txn ] || label="txn/${TXN_ROWS}"
		if [ -n "${TIMED_OUT[$c/$m]:-}" ]; then
			# Over the limit: only an upper bound is known.
			r=$((EVENTS / TIMEOUT))
			printf '%-10s %-10s %14s %9s %11s\n' "$label" "$c" "< $r" \
				"$(awk -v a="$r" -v b="$base" 'BEGIN { if (b > 0) printf "< %.2f", a / b; else print "-" }')" \
				"timeout"
			continue
		fi
		r=$(median "${RATE[$c/$m]}")
		w=""
		u=""
		case $c in plain | trigger) ;; *) w="$(median "${CATCHUP[$c/$m]}") s" ;; esac
		[ -z "${WORKER_CPU[$c/$m]:-}" ] || u="$(median "${WORKER_CPU[$c/$m]}") s"
		p=""
		[ -z "${WORKER_MEMORY[$c/$m]:-}" ] || p="$(median "${WORKER_MEMORY[$c/$m]}") MB"
		printf '%-10s %-10s %14s %9s %11s %11s %12s\n' "$label" "$c" "$r" \
			"$(awk -v a="$r" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')" "$w" "$u" "$p"
	done
done
# join1 against stream1, run by run within each repetition
for m in "${MODES[@]}"; do
	[ -n "${RATE[join1/$m]:-}" ] && [ -n "${RATE[stream1/$m]:-}" ] || continue
	read -r -a j <<<"${RATE[join1/$m]}"
	read -r -a s <<<"${RATE[stream1/$m]}"
	ratios=""
	for ((i = 0; i < ${#j[@]} && i < ${#s[@]}; i++)); do
		ratios+="$(awk -v a="${j[$i]}" -v b="${s[$i]}" 'BEGIN { printf "%.3f", a / b }') "
	done
	echo "lookup join ($m): join1 / stream1 events/s = $(median "$ratios") (median of paired runs: $ratios)"
done
echo
echo "shared memory of pg_continuous (pg_shmem_allocations): $shmem bytes"
echo "continuous.state_memory (limit for aggregate state, not included above): $state_memory"
