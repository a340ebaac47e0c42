# Copyright (c) pg_continuous contributors

# Kafka streams across the promotion of a physical standby (pg_basebackup
# -R, streaming).  A Kafka view's state and its partitions' offsets
# (continuous.kafka_offsets) are written by the same flush, so the standby
# has them consistent with each other; once promoted, its workers must go
# on from those offsets: no message lost, none counted twice.
#
# The primary flushes only every 10 seconds, and is stopped (immediate)
# while messages it has not flushed (a session holds its last flush back),
# or not even consumed, are in the topic; more are produced while no
# server runs, and after the promotion.
# The stream's partitions are shared by two workers per database, and the
# database has a table stream too, whose views the promoted standby
# computes again from their table: that must leave the Kafka views alone.
# Every view is compared with its SELECT over a plain table that holds
# every message produced (for emit = 'window_close', over the windows the
# stream's watermark has passed, which never goes back), after the promotion and after a kill -9 of the
# new primary's worker.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Failover;
use PgContinuous::MockKafka;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $partitions = 3;
my $tempdir    = PostgreSQL::Test::Utils::tempdir;
my $broker     = PgContinuous::MockKafka->start("orders:$partitions");
my $bootstrap  = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");

# Message i: key i % 17, amount i % 101, event time i seconds after
# 2026-01-01, as "id,k,amount,ts" (format csv).  produce.c sends the n-th
# line of a run to partition n % 3.
my $produced = 0;

# Produce messages $produced + 1 .. $produced + $n; return their rows as
# VALUES for the batch table.
sub produce
{
	my ($n) = @_;
	my @rows  = map { $produced + $_ } 1 .. $n;
	my $file = "$tempdir/produce.csv";
	open(my $fh, '>', $file) or die $!;
	print $fh map { sprintf("%d,%d,%d,%s\n", $_, $_ % 17, $_ % 101, stamp($_)) } @rows;
	close($fh);
	my ($out, $err) = ('', '');
	IPC::Run::run([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', 'orders' ],
		'<', $file, '>', \$out, '2>', \$err)
	  or diag $err;
	is($out, "produced $n\n", "produced messages " . ($produced + 1) . " .. " . ($produced + $n));
	$produced += $n;
	return join(',', map { sprintf("(%d,%d,%d,'%s')", $_, $_ % 17, $_ % 101, stamp($_)) } @rows);
}

sub stamp
{
	my ($i) = @_;
	return sprintf('2026-01-01 %02d:%02d:%02d+00',
		int($i / 3600) % 24, int($i / 60) % 60, $i % 60);
}

my $primary = continuous_node('primary',
	"continuous.flush_interval = '10s'\ncontinuous.workers = 2\n");
$primary->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (id bigint, k int, amount int, ts timestamptz)
    SERVER mock OPTIONS (topic 'orders', format 'csv', event_time 'ts',
                         watermark_delay '1 hour', start_offset 'earliest');
CREATE VIEW per_key WITH (continuous) AS
    SELECT k, count(*) AS n, sum(amount) AS s FROM orders GROUP BY k;
CREATE VIEW per_id WITH (continuous) AS
    SELECT id, count(*) AS n FROM orders GROUP BY id;
CREATE VIEW per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n, max(id) AS last
      FROM orders GROUP BY minute;
CREATE VIEW closed_minutes WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(amount) AS s
      FROM orders GROUP BY minute;
CREATE TABLE all_orders (id bigint, k int, amount int, ts timestamptz);
CREATE TABLE ev (k int, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '1 hour');
CREATE VIEW ev_per_key WITH (continuous) AS SELECT k, count(*) AS n FROM ev GROUP BY k;
});
my %views = (
	per_key    => 'SELECT k, count(*) AS n, sum(amount) AS s FROM orders GROUP BY k',
	per_id     => 'SELECT id, count(*) AS n FROM orders GROUP BY id',
	per_minute => "SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n, max(id) AS last "
	  . 'FROM orders GROUP BY minute',
);

sub compare_all
{
	my ($node, $when) = @_;
	views_equal_batches($node, \%views, 'orders', 'all_orders', $when);
	is_same_rows($node, 'ev_per_key', 'SELECT k, count(*) AS n FROM ev GROUP BY k',
		"$when: the table stream's view equals its SELECT");
	is( $node->safe_psql('postgres',
			'SELECT string_agg(committed_offset::text, \',\' ORDER BY "partition") '
			  . "FROM continuous.kafka_partitions WHERE stream = 'orders'::regclass"),
		join(',', (int($produced / $partitions)) x $partitions),
		"$when: every partition's stored offset is past its last message");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.dead_letters'),
		'0', "$when: no dead letters");
	# emit = 'window_close': the windows the stream's watermark has passed
	is_same_rows($node, 'closed_minutes',
		"SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS n, sum(amount) AS s "
		  . 'FROM all_orders GROUP BY minute HAVING continuous.tumble(ts, \'1 minute\') + '
		  . "interval '1 minute' <= (SELECT watermark FROM continuous.streams "
		  . "WHERE stream = 'orders'::regclass)",
		"$when: the closed windows equal their SELECT");
}

# Write on $node the messages $values (from produce()) into the batch
# table, and $ev_rows rows into the table stream; then, with $sync, wait
# until every view has them.
sub record
{
	my ($node, $values, $ev_rows, $sync) = @_;
	$node->safe_psql('postgres',
		"INSERT INTO all_orders VALUES $values; "
		  . "INSERT INTO ev (k) SELECT g % 7 FROM generate_series(1, $ev_rows) g"
		  . ($sync ? '; SELECT continuous.sync()' : ''));
}

# --- on the primary -------------------------------------------------------
record($primary, produce(3000), 1000, 1);
compare_all($primary, 'on the primary');

my $standby = streaming_standby($primary);

# Messages the primary has not flushed when it stops: the primary consumes
# while more are produced, in runs; its last flush is behind the last run.
# Which runs its flushes take is timing, but not that the last one is left
# out: a session holds the stream's rows of continuous.kafka_offsets
# before it, so that a flush that would write its offsets waits (in the
# middle of its transaction) until the primary stops.
record($primary, produce(1500), 200, 0) foreach 1 .. 3;
my $holder = $primary->background_psql('postgres');
$holder->query_safe('BEGIN; SELECT "partition" FROM continuous.kafka_offsets '
	  . "WHERE stream = 'orders'::regclass FOR UPDATE");
record($primary, produce(1500), 200, 0);
my $flushed = $primary->safe_psql('postgres',
	"SELECT sum(committed_offset) FROM continuous.kafka_partitions WHERE stream = 'orders'::regclass");
cmp_ok($flushed, '<', $produced,
	"the primary has flushed $flushed of $produced messages when it stops");
my $old_watermark = $primary->safe_psql('postgres',
	"SELECT watermark FROM continuous.streams WHERE stream = 'orders'::regclass");
stop_primary_after_catchup($primary, $standby, 'insert');
$holder->quit;    # its server is gone

# produced while no server runs
my $while_down = produce(3000);

promote_standby($standby);
record($standby, $while_down, 0, 0);
record($standby, produce(3000), 500, 1);
compare_all($standby, 'after the promotion');
is( $standby->safe_psql('postgres',
		"SELECT watermark >= '$old_watermark' FROM continuous.streams WHERE stream = 'orders'::regclass"),
	't', "the watermark went on from the primary's ($old_watermark)");
cmp_ok($standby->safe_psql('postgres', 'SELECT count(*) FROM closed_minutes'),
	'>', 0, 'windows closed after the promotion are shown');
like(slurp_file($standby->logfile),
	qr/computed 1 continuous views again from their stream tables .* could not decode/,
	'the promoted standby computed only the table stream\'s view again');

# the new primary goes on exactly, through a kill -9 of its worker
record($standby, produce(3000), 0, 0);
kill9_worker_and_wait($standby);
record($standby, produce(3000), 500, 1);
compare_all($standby, 'after more messages and a kill -9');
active_and_computed_again_once($standby);

$standby->stop;
$broker->stop;
done_testing();
