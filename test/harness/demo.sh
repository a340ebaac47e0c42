#!/bin/bash
# test/harness/demo.sh start|stop|clean: `make demo`, `make demo-stop`,
# `make demo-clean`.
#
# start: installs missing packages, builds and installs the extension, starts
#   a scratch cluster in .demo/ (preloaded, wal_level = logical, localhost on
#   the first free port from 5499), creates database "demo" with a stream
#   table "clicks", three continuous views, one joined to a table "users"
#   and a transform, starts a rate-limited pgbench that inserts random
#   clicks for DEMO_GENERATOR_SECONDS (default 300); also a Kafka cluster
#   (librdkafka's mock, test/kafka/mock_broker) with topic "orders", a feed
#   of live JSON orders into it for as long, a Kafka stream over it,
#   deduplicated by order id, and a view; and shows the views changing for
#   DEMO_SECONDS (default 20).
# stop:  stops the generators, the Kafka cluster and the server; keeps .demo/.
# clean: stop, then remove .demo/.
# When run as root the server runs as "postgres"; if that user cannot reach
# the repository, .demo is a symlink to a directory under /var/tmp.
set -Eeuo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEMO_LINK=$REPO/.demo
DEMO_SECONDS=${DEMO_SECONDS:-20}
DEMO_GENERATOR_SECONDS=${DEMO_GENERATOR_SECONDS:-300}

demo_psql()
{
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"
}

# Is the process of $DIR/NAME.pid, named COMM, still running?
demo_pid()
{
	local name=$1 comm=$2 pid
	[ -f "$DIR/$name.pid" ] || return 1
	pid=$(cat "$DIR/$name.pid")
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 1
	echo "$pid"
}

generator_pid() { demo_pid generator pgbench; }

demo_stop()
{
	local pid
	if [ ! -e "$DEMO_LINK" ]; then
		echo "no demo in $DEMO_LINK"
		return 0
	fi
	DIR=$(cd "$DEMO_LINK" && pwd -P)
	if pid=$(generator_pid); then
		kill "$pid"
		echo "stopped the event generator (pid $pid)"
	fi
	if pid=$(demo_pid kafka_feed produce); then
		kill "$pid"
		echo "stopped the Kafka order feed (pid $pid)"
	fi
	if pid=$(demo_pid kafka mock_broker); then
		kill "$pid"
		echo "stopped the Kafka cluster (pid $pid)"
	fi
	if pid=$(demo_pid kafka_hold sleep); then
		kill "$pid"
	fi
	rm -f "$DIR/generator.pid" "$DIR/kafka_feed.pid" "$DIR/kafka.pid" "$DIR/kafka_hold.pid"
	if [ -f "$DIR/data/postmaster.pid" ]; then
		pg_locate
		pg_stop "$DIR/data" || die "could not stop the demo server ($DIR/data)"
		echo "stopped the demo server"
	fi
}

demo_clean()
{
	local dir
	demo_stop
	if [ -L "$DEMO_LINK" ]; then
		dir=$(readlink -f "$DEMO_LINK")
		rm -rf "$dir"
		rm -f "$DEMO_LINK"
	else
		rm -rf "$DEMO_LINK"
	fi
	echo "removed $DEMO_LINK"
}

demo_setup_sql()
{
	cat <<'EOF'
CREATE EXTENSION pg_continuous;

CREATE TABLE clicks (user_id int, url text, latency_ms float8, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                watermark_delay => '5 seconds') \gset

CREATE VIEW clicks_per_user WITH (continuous) AS
    SELECT user_id, count(*) AS clicks, avg(latency_ms) AS avg_latency
    FROM clicks
    GROUP BY user_id;

CREATE VIEW clicks_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute,
           count(*) AS clicks, max(latency_ms) AS max_latency
    FROM clicks
    GROUP BY minute;

CREATE VIEW clicks_total WITH (continuous) AS
    SELECT count(*) AS clicks, avg(latency_ms) AS avg_latency, max(ts) AS last_click
    FROM clicks;

-- A table joined to the stream: each click counts for its user's country.
CREATE TABLE users (user_id int PRIMARY KEY, country text NOT NULL);
INSERT INTO users
    SELECT i, (ARRAY['DE', 'FR', 'JP', 'US', 'BR'])[1 + i % 5] FROM generate_series(1, 50) i;
CREATE VIEW clicks_per_country WITH (continuous) AS
    SELECT u.country, continuous.tumble(c.ts, '1 minute') AS minute, count(*) AS clicks
    FROM clicks c JOIN users u ON u.user_id = c.user_id
    GROUP BY u.country, minute;

-- A view without aggregates keeps its rows: the slow clicks of the last
-- ten minutes.
CREATE VIEW slow_clicks WITH (continuous, retention = '10 minutes') AS
    SELECT ts, user_id, url, latency_ms FROM clicks WHERE latency_ms > 240;

-- A Kafka topic is a stream too: a foreign table of continuous_kafka.
CREATE SERVER kafka FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers :'brokers');
CREATE FOREIGN TABLE orders (order_id bigint, customer int, amount numeric, ts timestamptz)
    SERVER kafka
    OPTIONS (topic 'orders', format 'json', event_time 'ts',
             watermark_delay '2 seconds', start_offset 'earliest',
             unique_key 'order_id', dedup_within '10 minutes');

CREATE VIEW revenue_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute,
           count(*) AS orders, sum(amount) AS revenue
    FROM orders
    GROUP BY minute;
EOF
}

# Start the Kafka cluster, unless it runs; sets BROKERS.  A cluster started
# anew (after demo-stop) listens elsewhere: the server follows.
demo_kafka_start()
{
	if ! demo_pid kafka mock_broker >/dev/null; then
		log "starting a Kafka cluster (librdkafka's mock) with topic orders"
		rm -f "$DIR/kafka.in" "$DIR/kafka.out"
		mkfifo "$DIR/kafka.in"
		# it runs until killed, or until its stdin (held open here) closes
		nohup "$REPO/test/kafka/mock_broker" --topic orders:4 \
			<"$DIR/kafka.in" >"$DIR/kafka.out" 2>"$DIR/kafka.log" &
		echo $! >"$DIR/kafka.pid"
		nohup sleep infinity >"$DIR/kafka.in" 2>/dev/null </dev/null &
		echo $! >"$DIR/kafka_hold.pid"
		for _ in $(seq 100); do
			[ -s "$DIR/kafka.out" ] && break
			sleep 0.1
		done
	fi
	BROKERS=$(head -n 1 "$DIR/kafka.out")
	[ -n "$BROKERS" ] || die "the Kafka cluster did not start (log: $DIR/kafka.log)"
}

# Live orders, about 100 a second, into topic orders.
demo_kafka_feed()
{
	demo_pid kafka_feed produce >/dev/null && return
	log "starting the Kafka order feed: ~100 orders/s for ${DEMO_GENERATOR_SECONDS}s"
	cat >"$DIR/kafka_feed.pl" <<'PERL'
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);
$| = 1;
my ($n, $end) = (0, time + $ARGV[0]);
while (time < $end) {
	for (1 .. 10) {
		my $t = time;
		printf qq({"order_id": %d, "customer": %d, "amount": %.2f, "ts": "%s.%03d+00"}\n),
			++$n, 1 + int(rand(20)), 5 + rand(95),
			strftime('%Y-%m-%d %H:%M:%S', gmtime($t)), ($t * 1000) % 1000;
	}
	sleep 0.1;
}
PERL
	nohup perl "$DIR/kafka_feed.pl" "$DEMO_GENERATOR_SECONDS" </dev/null 2>"$DIR/kafka_feed.log" |
		nohup "$REPO/test/kafka/produce" -b "$BROKERS" -t orders >>"$DIR/kafka_feed.log" 2>&1 &
	# the producer, at the end of the pipeline: stopping it stops the feed
	echo $! >"$DIR/kafka_feed.pid"
}

# One look at the views, after waiting for everything committed so far.
demo_look_sql()
{
	cat <<'EOF'
\pset footer off
SELECT continuous.sync() \g /dev/null
SELECT to_char(now(), 'HH24:MI:SS') AS now, stream, kind, events, duplicates, lag_bytes, lag_messages FROM continuous.streams;
\echo 'clicks_per_user (top 5):'
SELECT user_id, clicks, round(avg_latency::numeric, 1) AS avg_latency
  FROM clicks_per_user ORDER BY clicks DESC, user_id LIMIT 5;
\echo 'clicks_per_minute (last 3 minutes):'
SELECT minute, clicks, max_latency FROM clicks_per_minute ORDER BY minute DESC LIMIT 3;
\echo 'clicks_total:'
SELECT clicks, round(avg_latency::numeric, 1) AS avg_latency, last_click FROM clicks_total;
\echo 'revenue_per_minute, from Kafka topic orders (last 3 minutes):'
SELECT minute, orders, round(revenue, 2) AS revenue FROM revenue_per_minute ORDER BY minute DESC LIMIT 3;
\echo 'clicks_per_country, joined to table users (this minute):'
SELECT country, clicks FROM clicks_per_country
 WHERE minute = (SELECT max(minute) FROM clicks_per_country) ORDER BY clicks DESC, country;
\echo 'slow_clicks, a transform (latest 3):'
SELECT ts, user_id, url, latency_ms FROM slow_clicks ORDER BY ts DESC LIMIT 3;
EOF
}

# Random clicks: 50 users, 10 pages, timestamps up to 2 s in the past.
demo_generator_sql()
{
	cat <<'EOF'
INSERT INTO clicks (user_id, url, latency_ms, ts)
SELECT 1 + (random() * 49)::int,
       '/page/' || (1 + (random() * 9)::int),
       round((5 + random() * 245)::numeric, 1),
       now() - random() * interval '2 seconds'
  FROM generate_series(1, 50);
EOF
}

demo_start()
{
	trap 'echo "make demo failed; the demo server may still be running:" \
		"make demo-stop stops it, make demo-clean starts over" >&2' ERR
	"$REPO/test/harness/build.sh"
	pg_locate

	# The demo directory must be reachable by the server user.
	if [ ! -e "$DEMO_LINK" ]; then
		if as_pg_cd test -x "$REPO"; then
			mkdir "$DEMO_LINK"
		else
			local dir=/var/tmp/pg_continuous-demo
			log "$PG_OS_USER cannot reach $REPO; the demo lives in $dir"
			mkdir -p "$dir"
			ln -s "$dir" "$DEMO_LINK"
		fi
	fi
	DIR=$(cd "$DEMO_LINK" && pwd -P)
	[ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER": "$DIR"

	if [ ! -f "$DIR/data/PG_VERSION" ]; then
		log "initdb $DIR/data"
		pg_init "$DIR/data"
		echo "include 'demo.conf'" >>"$DIR/data/postgresql.conf"
	fi

	if as_pg_cd "$PG_BINDIR/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
		PORT=$(cat "$DIR/port")
		log "demo server already running on port $PORT"
	else
		PORT=$(free_port "${DEMO_PORT:-5499}")
		{
			echo "# written by test/harness/demo.sh at every start"
			pg_server_conf "$PORT"
		} >"$DIR/demo.conf.tmp"
		if [ "$(id -u)" -eq 0 ]; then
			install -o "$PG_OS_USER" -m 644 "$DIR/demo.conf.tmp" "$DIR/data/demo.conf"
		else
			cp "$DIR/demo.conf.tmp" "$DIR/data/demo.conf"
		fi
		rm -f "$DIR/demo.conf.tmp"
		echo "$PORT" >"$DIR/port"
		log "starting the demo server on port $PORT (log: $DIR/server.log)"
		touch "$DIR/server.log"
		[ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER": "$DIR/server.log"
		pg_start "$DIR/data" "$DIR/server.log"
	fi

	demo_kafka_start
	if [ -z "$(demo_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'demo'")" ]; then
		log "creating database demo, the streams and their continuous views"
		demo_psql -d postgres -c 'CREATE DATABASE demo'
		if ! demo_setup_sql | demo_psql -d demo -v brokers="$BROKERS" -e -f -; then
			# Start from scratch next time.  The worker holds the database
			# until the extension is gone.
			demo_psql -d demo -c 'DROP EXTENSION IF EXISTS pg_continuous CASCADE' || true
			demo_psql -d postgres -c 'DROP DATABASE demo WITH (FORCE)' || true
			die "demo setup failed; server still running (make demo-stop, make demo-clean)"
		fi
	else
		echo "ALTER SERVER kafka OPTIONS (SET brokers :'brokers');" |
			demo_psql -d demo -v brokers="$BROKERS" -f -
	fi
	demo_kafka_feed

	if ! generator_pid >/dev/null; then
		demo_generator_sql >"$DIR/generator.sql"
		log "starting the event generator: ~1000 clicks/s for ${DEMO_GENERATOR_SECONDS}s"
		nohup "$PG_BINDIR/pgbench" -n -h 127.0.0.1 -p "$PORT" -U postgres \
			-c 2 -j 1 -R 20 -T "$DEMO_GENERATOR_SECONDS" -f "$DIR/generator.sql" demo \
			>"$DIR/generator.log" 2>&1 </dev/null &
		echo $! >"$DIR/generator.pid"
	fi

	demo_look_sql >"$DIR/look.sql"
	local end=$((SECONDS + DEMO_SECONDS))
	while [ $SECONDS -lt $end ]; do
		[ ! -t 1 ] || printf '\033[H\033[2J'
		demo_psql -d demo -f "$DIR/look.sql"
		echo
		sleep 1
	done

	cat <<EOF
The demo is running (generator for up to ${DEMO_GENERATOR_SECONDS}s from its start).
Connect:    psql -h localhost -p $PORT -U postgres demo
Look:       SELECT continuous.sync(); SELECT * FROM clicks_per_user ORDER BY user_id;
            SELECT * FROM continuous.streams; SELECT * FROM continuous.views;
            SELECT * FROM revenue_per_minute; SELECT * FROM continuous.kafka_partitions;
Stop:       make demo-stop     (generator and server; keeps $DEMO_LINK)
Remove:     make demo-clean    (also deletes $DEMO_LINK)
EOF
}

case "${1:-}" in
	start) demo_start ;;
	stop) demo_stop ;;
	clean) demo_clean ;;
	*) die "usage: $0 start|stop|clean" ;;
esac
