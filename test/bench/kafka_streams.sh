#!/bin/bash
# test/bench/kafka_streams.sh: part of `make bench`.  How fast one worker
# consumes a Kafka topic into one continuous view, against the limit: a bare
# librdkafka consumer (test/kafka/raw_consume) reading the same messages in
# the same run.  A mock Kafka cluster (test/kafka/mock_broker) serves two
# topics with the same BENCH_MESSAGES events (default 1000000, 1,000 keys),
# one as JSON and one as CSV.  For the view the clock runs from CREATE VIEW
# (the first view of a stream starts consuming at start_offset 'earliest')
# until continuous.sync() returns with every message counted; for the bare
# consumer, from the creation of its client until it has every message.  Each
# measurement runs BENCH_REPEAT times (default 3); the table shows medians.
# BENCH_FORMATS (default "json csv") picks the formats measured;
# BENCH_WORKERS (default 1) sets continuous.workers (the targets are for 1).
# BENCH_CONF adds a line to the server's postgresql.conf, as in
# table_streams.sh.
# BENCH_PROFILE=DIR records each view run of the first worker with
# `perf record --call-graph dwarf` into DIR/view-FORMAT-REP.data.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/../harness/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/bench_lib.sh"

MESSAGES=${BENCH_MESSAGES:-1000000}
REPEAT=${BENCH_REPEAT:-3}
FORMATS=${BENCH_FORMATS:-json csv}
PROFILE=${BENCH_PROFILE:-}
WORKERS=${BENCH_WORKERS:-1}
PARTITIONS=8
KEYS=1000

bench_server kafka-bench 5620 "autovacuum = off" "continuous.workers = $WORKERS" \
	${BENCH_CONF:+"$BENCH_CONF"}
BROKER_PID=
BENCH_ON_EXIT='[ -z "$BROKER_PID" ] || kill "$BROKER_PID" 2>/dev/null'

# The broker runs until it is killed at exit, or its stdin (a FIFO this
# script holds open) closes.
log "starting the mock Kafka cluster"
mkfifo "$SCRATCH/broker.in"
"$REPO/test/kafka/mock_broker" --topic "json:$PARTITIONS" --topic "csv:$PARTITIONS" \
	<"$SCRATCH/broker.in" >"$SCRATCH/broker.out" 2>"$SCRATCH/broker.log" &
BROKER_PID=$!
exec 8>"$SCRATCH/broker.in"
for _ in $(seq 100); do
	[ -s "$SCRATCH/broker.out" ] && break
	sleep 0.1
done
BROKERS=$(head -n 1 "$SCRATCH/broker.out")
[ -n "$BROKERS" ] || die "the mock broker did not start (log: $SCRATCH/broker.log)"

log "producing $MESSAGES messages as JSON and as CSV ($PARTITIONS partitions each)"
bpsql -d postgres <<EOF
SELECT setseed(0.42);
CREATE TEMP TABLE src AS
SELECT 1 + floor(random() * $KEYS)::int AS user_id,
       floor(random() * 1000)::int AS value,
       round((random() * 100)::numeric, 2) AS amount,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 millisecond' AS ts
  FROM generate_series(1, $MESSAGES) i;
COPY (SELECT json_build_object('user_id', user_id, 'value', value,
                               'amount', amount, 'ts', ts) FROM src)
  TO '$SCRATCH/messages.json';
COPY (SELECT user_id, value, amount, ts FROM src) TO '$SCRATCH/messages.csv' (FORMAT csv);
EOF
for format in json csv; do
	produced=$("$REPO/test/kafka/produce" -b "$BROKERS" -t "$format" <"$SCRATCH/messages.$format")
	[ "$produced" = "produced $MESSAGES" ] || die "$format: $produced"
done

bpsql -d postgres <<EOF
CREATE EXTENSION pg_continuous;
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$BROKERS', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE events_json (user_id int, value int, amount numeric, ts timestamptz)
    SERVER mock OPTIONS (topic 'json', format 'json', start_offset 'earliest');
CREATE FOREIGN TABLE events_csv (user_id int, value int, amount numeric, ts timestamptz)
    SERVER mock OPTIONS (topic 'csv', format 'csv', start_offset 'earliest');
EOF

declare -A RATE

# One run of the bare consumer.
measure_raw()
{
	local format=$1 out
	out=$("$REPO/test/kafka/raw_consume" -b "$BROKERS" -t "$format" -n "$MESSAGES")
	RATE[raw/$format]+="$(awk '{ for (i = 1; i < NF; i++) if ($i == "msgs/s") print $(i + 1) }' <<<"$out" | cut -d. -f1) "
	log "raw/$format run: $out"
}

# One run of a view: the first view of the stream, so it reads the topic
# from the beginning; dropping it forgets the offsets for the next run.
measure_view()
{
	local format=$1 rep=$2 t0 t1 count perf_pid=
	if [ -n "$PROFILE" ]; then
		# perf starts with its events off; once it acknowledges "enable",
		# it records
		mkdir -p "$PROFILE"
		rm -f "$SCRATCH/perf.ctl" "$SCRATCH/perf.ack"
		mkfifo "$SCRATCH/perf.ctl" "$SCRATCH/perf.ack"
		perf record -q --call-graph dwarf -F ${BENCH_PROFILE_HZ:-499} -D -1 \
			--control "fifo:$SCRATCH/perf.ctl,$SCRATCH/perf.ack" \
			-o "$PROFILE/view-$format-$rep.data" \
			-p "$(bpsql -d postgres -tAc "SELECT pid FROM pg_stat_activity
			         WHERE backend_type = 'pg_continuous worker' ORDER BY pid LIMIT 1")" \
			2>/dev/null &
		perf_pid=$!
		echo enable >"$SCRATCH/perf.ctl"
		read -r _ <"$SCRATCH/perf.ack"
	fi
	t0=$(now_ns)
	bpsql -d postgres -c "CREATE VIEW v_$format WITH (continuous) AS
	            SELECT user_id, count(*) AS c, sum(value) AS s, avg(amount) AS a
	              FROM events_$format GROUP BY user_id" \
		-c "SELECT continuous.sync('10 minutes')" >/dev/null
	t1=$(now_ns)
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid"
		wait "$perf_pid" || true
	fi
	count=$(bpsql -d postgres -tAc "SELECT sum(c) FROM v_$format")
	# Refuse to report the speed of wrong answers.
	[ "$count" = "$MESSAGES" ] || die "view/$format: counted $count messages, expected $MESSAGES"
	bpsql -d postgres -c "DROP VIEW v_$format"
	RATE[view/$format]+="$(awk -v n="$MESSAGES" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f", n / (ns / 1e9) }') "
	log "view/$format run: $(awk -v n="$MESSAGES" -v ns=$((t1 - t0)) 'BEGIN { printf "%.0f msgs/s", n / (ns / 1e9) }')"
}


for ((rep = 1; rep <= REPEAT; rep++)); do
	for format in $FORMATS; do
		measure_raw "$format"
		measure_view "$format" "$rep"
	done
done

echo
echo "Kafka streams: $MESSAGES messages, $PARTITIONS partitions, $KEYS keys, one view, $WORKERS worker(s), medians of $REPEAT"
printf '%-8s %16s %16s %8s\n' format "raw msgs/s" "view msgs/s" ratio
for format in $FORMATS; do
	raw=$(median "${RATE[raw/$format]}")
	view=$(median "${RATE[view/$format]}")
	printf '%-8s %16s %16s %7.2fx\n' "$format" "$raw" "$view" \
		"$(awk -v a="$view" -v b="$raw" 'BEGIN { print a / b }')"
done
