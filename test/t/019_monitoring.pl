# Copyright (c) pg_continuous contributors

# Monitoring that tells the truth.
#
#   - Time: what the worker writes with now() (continuous.views.last_flush_at,
#     continuous.kafka_partitions.updated_at, continuous.dead_letters.at, a
#     Kafka stream's last_event_at) and a view's own now() are the flush
#     transaction's time, not the worker's start: a clock_timestamp() taken
#     before the events, with the worker started well before (a first flush
#     happened), is <= each of them.
#   - The lag columns of continuous.streams: lag_bytes for table streams,
#     lag_messages for Kafka streams, wal_retained for the database's slot.

use strict;
use warnings;

use IPC::Run;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::MockKafka;
use PgContinuous::Node;

my $tempdir = PostgreSQL::Test::Utils::tempdir;

# --- a Kafka stream and a table stream, with views --------------------------
my $broker    = PgContinuous::MockKafka->start('orders:2');
my $bootstrap = $broker->bootstrap;
my $produced  = 0;

# Produce @lines to topic orders, one message each, to its partitions in turn.
sub produce
{
	my (@lines) = @_;
	my $file = "$tempdir/produce.txt";
	open(my $fh, '>', $file) or die $!;
	print $fh "$_\n" foreach @lines;
	close($fh);
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'kafka/produce', '-b', $bootstrap, '-t', 'orders' ],
		'<', $file, '>', \$out, '2>', \$err)
	  or diag $err;
	is($out, 'produced ' . scalar(@lines) . "\n", 'produced ' . scalar(@lines) . ' messages');
	$produced += @lines;
}

sub order
{
	my ($id) = @_;
	my $ts = strftime('%Y-%m-%d %H:%M:%S+00', gmtime(time()));
	return "{\"id\": $id, \"ts\": \"$ts\"}";
}

my $node = continuous_node('monitoring');
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE TABLE clicks (k text, v int, ts timestamptz);
SELECT continuous.create_stream('clicks', event_time => 'ts', watermark_delay => '1 second');

-- refuses to combine negative states
CREATE FUNCTION picky_combine(int8, int8) RETURNS int8 LANGUAGE plpgsql AS \$\$
BEGIN
    IF \$1 < 0 OR \$2 < 0 THEN
        RAISE EXCEPTION 'picky_combine refuses % and %', \$1, \$2;
    END IF;
    RETURN \$1 + \$2;
END \$\$;
CREATE AGGREGATE picky_sum(int) (SFUNC = int84pl, STYPE = int8,
                                 COMBINEFUNC = picky_combine, INITCOND = '0');

-- events of the last hour, by the flush's clock
CREATE VIEW recent WITH (continuous) AS
    SELECT count(CASE WHEN ts > now() - interval '1 hour' AND ts <= now() THEN 1 END) AS recent,
           count(*) AS n
    FROM clicks;
CREATE VIEW per_minute WITH (continuous, retention = '1 hour') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(100 / v) AS inverse
    FROM clicks GROUP BY minute;
CREATE VIEW picky WITH (continuous) AS
    SELECT k, picky_sum(v) AS s FROM clicks GROUP BY k;

CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (id bigint, ts timestamptz)
    SERVER mock OPTIONS (topic 'orders', format 'json', event_time 'ts',
                         start_offset 'earliest');
CREATE VIEW order_count WITH (continuous) AS SELECT count(*) AS n FROM orders;
});

# --- a first flush, well before the events below ---------------------------
$node->safe_psql('postgres',
	"INSERT INTO clicks VALUES ('a', 1, clock_timestamp())");
produce(order(1), order(2));
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is( $node->safe_psql('postgres',
		'SELECT count(*) FILTER (WHERE last_flush_at IS NOT NULL) FROM continuous.views'),
	4, 'every view has had a first flush');

# --- time -------------------------------------------------------------------
# t0 lies after the first flush and before every event below.
$node->safe_psql('postgres', q{
CREATE TABLE mark AS SELECT clock_timestamp() AS t0;
INSERT INTO clicks SELECT 'k' || (g % 2), g, clock_timestamp() FROM generate_series(1, 20) g;
INSERT INTO clicks VALUES ('a', 1, NULL);               -- no event time: a dead letter
INSERT INTO clicks VALUES ('b', 0, clock_timestamp());  -- 100 / 0 in per_minute
});
produce(map({ order($_) } 3 .. 12), 'not json');
$node->safe_psql('postgres', 'SELECT continuous.sync()');

is( $node->safe_psql('postgres', q{
SELECT count(*) FROM pg_stat_activity, mark
 WHERE backend_type = 'pg_continuous worker' AND backend_start < t0}),
	1, 'the worker started before t0');
is( $node->safe_psql('postgres',
		'SELECT count(*) FILTER (WHERE last_flush_at >= t0) FROM continuous.views, mark'),
	4, 'views: last_flush_at is the time of the flush, after t0');
is( $node->safe_psql('postgres', q{
SELECT count(*), count(*) FILTER (WHERE updated_at >= t0)
  FROM continuous.kafka_partitions, mark}),
	'2|2', 'kafka_partitions: updated_at is the time of the flush');
is( $node->safe_psql('postgres', q{
SELECT string_agg(stream || ': ' || (last_event_at >= t0), ', ' ORDER BY stream::text)
  FROM continuous.streams, mark}),
	'clicks: true, orders: true', 'streams: last_event_at is recent');
is( $node->safe_psql('postgres', q{
SELECT string_agg(stream || coalesce('/' || view, '') || ': ' || (at >= t0), ', '
                  ORDER BY stream::text, view::text NULLS FIRST)
  FROM continuous.dead_letters, mark}),
	'clicks: true, clicks/per_minute: true, orders: true',
	'dead_letters: at is the time of the flush that wrote them');
is( $node->safe_psql('postgres', 'SELECT recent, n FROM recent'),
	'22|22', "a view's now() is the flush's: every event is of the last hour");

# --- the lag columns ----------------------------------------------------------
is( $node->safe_psql('postgres', q{
SELECT string_agg(format('%s: %s|%s|%s', stream, lag_bytes >= 0, lag_messages,
                         wal_retained > 0), ', ' ORDER BY stream::text)
  FROM continuous.streams}),
	'clicks: t||t, orders: |0|',
	'lag_bytes and wal_retained for table streams, lag_messages for Kafka');
is( $node->safe_psql('postgres', q{
SELECT restart_lsn AS restart, pg_current_wal_lsn() AS before FROM pg_replication_slots \gset
SELECT wal_retained AS retained FROM continuous.streams WHERE kind = 'table' \gset
SELECT :retained BETWEEN pg_wal_lsn_diff(:'before', :'restart')
                     AND pg_wal_lsn_diff(pg_current_wal_lsn(), :'restart');}),
	't', "wal_retained: the WAL from the slot's restart_lsn to the end");

$broker->stop;
$node->stop;
done_testing();
