#!/bin/bash
# test/bench/window_memory.sh: part of `make bench`.  Memory of a windowed
# view on an endless stream: BENCH_WINDOW_EVENTS events (default 10000000)
# through 1-minute tumbling windows over 10,000 keys, loaded in 10 phases of
# equal size, as transactions of 10,000 rows, with event time moving on (100,000 events per minute of event
# time, so each window holds about 10 events per key).  After each phase,
# once continuous.sync() returns, it prints the worker's private memory
# (RssAnon: its heap; shared buffers it touched are not its own), sampled
# every 0.2 s during the phase for the peak, and the view's storage size.
# The worker's memory must stay flat while the events grow tenfold: a
# batch's state is bounded by continuous.batch_events and
# continuous.state_memory, and closed windows live in storage, not in
# memory.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

EVENTS=${BENCH_WINDOW_EVENTS:-10000000}
PHASES=10
KEYS=10000
PER_MINUTE=100000
TXN_ROWS=10000

bench_server window-bench 5640

bpsql -d postgres <<EOF
CREATE EXTENSION pg_continuous;
CREATE TABLE events (user_id int, value int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts',
                                watermark_delay => '1 minute');
CREATE VIEW per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, user_id,
           count(*) AS c, sum(value) AS s, max(value) AS mx
      FROM events GROUP BY minute, user_id;
EOF
WORKER=$(bpsql -d postgres -tAc "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker'")
[ -n "$WORKER" ] || die "no pg_continuous worker"

kb() { awk -v k="$1" '$1 == k ":" { print $2 }' "/proc/$WORKER/status"; }

per_phase=$((EVENTS / PHASES))
log "$EVENTS events in $PHASES phases, $KEYS keys, 1-minute windows"
printf '%-6s %12s %10s %16s %16s %11s\n' phase events windows "worker heap MB" "peak in phase" "storage MB"
for ((p = 0; p < PHASES; p++)); do
	lo=$((p * per_phase))
	# sample the worker's heap while the phase runs
	(peak=0
	 while kill -0 "$WORKER" 2>/dev/null && [ ! -e "$SCRATCH/phase.done" ]; do
		now=$(kb RssAnon)
		[ "${now:-0}" -le "$peak" ] || peak=$now
		echo "$peak" >"$SCRATCH/phase.peak"
		sleep 0.2
	 done) &
	sampler=$!
	rm -f "$SCRATCH/phase.done"
	bpsql -d postgres >/dev/null <<EOF
DO \$\$
BEGIN
    FOR b IN 0 .. $((per_phase / TXN_ROWS - 1)) LOOP
        INSERT INTO events
        SELECT (i * 7919) % $KEYS, i % 1000,
               timestamptz '2024-01-01 00:00:00+00' + (i / $PER_MINUTE) * interval '1 minute'
                                                  + (i % $PER_MINUTE) * interval '0.5 ms'
          FROM generate_series($lo::bigint + b * $TXN_ROWS,
                               $lo::bigint + (b + 1) * $TXN_ROWS - 1) i;
        COMMIT;
    END LOOP;
END
\$\$;
SELECT continuous.sync('10 minutes');
EOF
	touch "$SCRATCH/phase.done"
	wait "$sampler"
	now=$(kb RssAnon)
	[ "$now" -le "$(cat "$SCRATCH/phase.peak")" ] || echo "$now" >"$SCRATCH/phase.peak"
	printf '%-6s %12s %10s %16s %16s %11s\n' "$((p + 1))" "$((lo + per_phase))" \
		"$(bpsql -d postgres -tAc "SELECT count(DISTINCT minute) FROM per_minute")" \
		"$(($(kb RssAnon) / 1024))" "$(($(cat "$SCRATCH/phase.peak") / 1024))" \
		"$(bpsql -d postgres -tAc "SELECT pg_total_relation_size(storage) / 1048576 FROM continuous.views")"
	# the stream table itself is not what is measured
	bpsql -d postgres -c "TRUNCATE events" >/dev/null
done
check=$(bpsql -d postgres -tAc "SELECT sum(c) FROM per_minute")
[ "$check" = "$EVENTS" ] || die "the view counted $check events, expected $EVENTS"
