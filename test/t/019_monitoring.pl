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
#   - contrib/prometheus/pg_continuous_queries.yaml, through
#     prometheus-postgres-exporter started against the node: metric names,
#     types and values, with a failed view, dead letters and late events.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgContinuous::MockKafka;
use PgContinuous::Node;

my $queries = abs_path(dirname(__FILE__) . '/../..') . '/contrib/prometheus/pg_continuous_queries.yaml';

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
	IPC::Run::run([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', 'orders' ],
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
INSERT INTO clicks VALUES ('a', 1, '2099-01-01');       -- beyond max_future: a dead letter
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

# --- a late event, and a view that fails ---------------------------------------
$node->safe_psql('postgres',
	"INSERT INTO clicks VALUES ('late', 1, '2000-01-01 00:00:00+00')");
$node->safe_psql('postgres', 'SELECT continuous.sync()');
$node->safe_psql('postgres', "INSERT INTO clicks VALUES ('a', -5, clock_timestamp())");
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT continuous.sync()');
like($err, qr/continuous view picky has failed/, 'picky has failed');
is( $node->safe_psql('postgres', q{
SELECT string_agg(format('%s %s %s %s %s', view, status, events, late_events, errors),
                  ', ' ORDER BY view::text)
  FROM continuous.views}),
	'order_count active 12 0 0, per_minute active 24 1 1, picky failed 23 0 0, recent active 24 0 0',
	'continuous.views: one failed view, one late event, one dead letter');

# --- prometheus-postgres-exporter ------------------------------------------------
my $exporter;             # its IPC::Run harness
my (%types, @samples);    # what it exported: metric => type; name, labels, value

END { local $?; $exporter->kill_kill if $exporter; }    # $? is the exit status

# Start the exporter against the node with the queries file alone, and scrape
# its /metrics once it answers (kept in the log directory).  True if it did.
sub scrape
{
	my $user = $node->safe_psql('postgres', 'SELECT current_user');
	my $port = PostgreSQL::Test::Cluster::get_free_port();
	my $log  = "$PostgreSQL::Test::Utils::log_path/019_exporter.log";
	{
		local $ENV{DATA_SOURCE_NAME} = 'host=' . $node->host . ' port=' . $node->port
		  . " user=$user dbname=postgres sslmode=disable";
		$exporter = IPC::Run::start(
			[
				'prometheus-postgres-exporter',
				"--web.listen-address=127.0.0.1:$port",
				"--extend.query-path=$queries",
				'--disable-default-metrics', '--disable-settings-metrics',
				'--no-collector.database',   '--no-collector.bgwriter'
			],
			'>', $log, '2>&1');
	}

	my $http = HTTP::Tiny->new(timeout => 10);
	my $response;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		$response = $http->get("http://127.0.0.1:$port/metrics");
		last if $response->{success} || !$exporter->pumpable;    # or it exited
		usleep(100_000);
	}
	unless ($response->{success})
	{
		diag "$response->{status} $response->{content}\n" . slurp_file($log);
		return 0;
	}
	open(my $fh, '>', "$PostgreSQL::Test::Utils::log_path/019_metrics.txt") or die $!;
	print $fh $response->{content};
	close($fh);

	foreach my $line (split /\n/, $response->{content})
	{
		if ($line =~ /^# TYPE (\S+) (\S+)/)
		{
			$types{$1} = $2;
			next;
		}
		next unless $line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/;
		my ($name, $labels, $value) = ($1, $2 // '', $3);
		my %labels;
		$labels{$1} = $2 while $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
		push @samples, { name => $name, labels => \%labels, value => $value };
	}
	return 1;
}

# The value of the one sample of $name whose labels include %want.
sub metric
{
	my ($name, %want) = @_;
	my @found = grep {
		my $s = $_;
		$s->{name} eq $name
		  && !grep { ($s->{labels}{$_} // '') ne $want{$_} } keys %want
	} @samples;
	return @found == 1 ? $found[0]{value} : "(" . scalar(@found) . " samples)";
}

sub number
{
	my ($value) = @_;
	return $value =~ /^-?[0-9.]+(?:e[-+]?[0-9]+)?$/;
}

SKIP:
{
	# test/harness/test.sh tests a copy of sql/, expected/ and test/ alone
	# when the server's user cannot read the repository
	skip "$queries is not in this copy of the tests", 1 unless -f $queries;
	ok(scrape(), 'the exporter answers') or last SKIP;

	my @ours = grep { $_->{name} =~ /^pg_continuous_/ } @samples;
	ok(@ours > 0, 'pg_continuous metrics are exported');
	is( join(', ',
			map { "$_->{name} = $_->{value}" }
			  grep { !number($_->{value}) && $_->{value} ne '+Inf' } @ours),
		'',
		'every pg_continuous metric is a number');
	is(metric('pg_up'), 1, 'the exporter reaches the node');
	is(metric('pg_exporter_last_scrape_error'), 0, 'every query of the file ran');

	# streams
	my $clicks = $node->safe_psql('postgres', 'SELECT count(*) FROM clicks');
	is( metric('pg_continuous_stream_events_total',
			stream => 'clicks', kind => 'table', datname => 'postgres'),
		$clicks, 'clicks: events_total counts every row of the table');
	is(metric('pg_continuous_stream_events_total', stream => 'orders', kind => 'kafka'),
		$produced, 'orders: events_total counts every message');
	is($types{pg_continuous_stream_events_total}, 'counter', 'events_total is a counter');
	is($types{pg_continuous_view_events_total}, 'counter', "views' events_total is a counter");
	is(metric('pg_continuous_stream_dead_letters_total', stream => 'clicks'), 1,
		'clicks: one dead letter before the views');
	is(metric('pg_continuous_stream_dead_letters_total', stream => 'orders'), 1,
		'orders: one dead letter');
	is(metric('pg_continuous_stream_has_error', stream => 'orders'), 0, 'orders has no error');
	ok(number(metric('pg_continuous_table_stream_lag_bytes', stream => 'clicks')),
		'clicks: lag_bytes is a number');
	is(metric('pg_continuous_table_stream_lag_bytes', stream => 'orders'), '(0 samples)',
		'a Kafka stream has no lag in bytes');
	is(metric('pg_continuous_kafka_stream_lag_messages', stream => 'orders'), 0,
		'orders: lag_messages is 0 after sync()');
	my $retained = metric('pg_continuous_wal_retained_bytes', datname => 'postgres');
	ok(number($retained) && $retained > 0, "wal_retained_bytes is a positive number ($retained)");
	my $age = metric('pg_continuous_stream_watermark_age_seconds', stream => 'clicks');
	ok(number($age) && $age >= 1,
		"clicks: the watermark is 1 s (watermark_delay) or more behind the clock ($age)");

	# views
	is(metric('pg_continuous_view_failed', view => 'picky', stream => 'clicks'), 1,
		'picky: failed is 1');
	is( join(',', map { metric('pg_continuous_view_failed', view => $_) }
			  qw(order_count per_minute recent)),
		'0,0,0',
		'the other views: failed is 0');
	is( join(',', map { metric('pg_continuous_view_waiting', view => $_) }
			  qw(picky order_count per_minute recent)),
		'0,0,0,0',
		'no view is held back by a lock: waiting is 0');
	is(metric('pg_continuous_view_retention_seconds', view => 'per_minute'), 3600,
		'per_minute: retention of 1 hour in seconds');
	is(metric('pg_continuous_view_retention_seconds', view => 'recent'), '+Inf',
		'recent: no retention, kept forever');
	is(metric('pg_continuous_view_late_events_total', view => 'per_minute'), 1,
		'per_minute: one late event');
	is(metric('pg_continuous_view_dead_letters_total', view => 'per_minute'), 1,
		'per_minute: one dead letter');
	is(metric('pg_continuous_view_events_total', view => 'recent'), $clicks - 1,
		'recent: every event but the one from the future');
	foreach my $m (qw(age_seconds duration_seconds latency_seconds))
	{
		my $v = metric("pg_continuous_view_last_flush_$m", view => 'per_minute');
		ok(number($v) && $v >= 0, "per_minute: last_flush_$m is a number ($v)");
	}
}

$broker->stop;
$node->stop;
done_testing();
