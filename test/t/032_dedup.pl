
# Copyright (c) pg_continuous contributors

# Deduplication of stream events (create_stream(unique_key, dedup_within)),
# exactly once across crashes.  Concurrent writer sessions insert events
# whose keys overlap: a duplicate is the same event sent again (the same
# row), so whichever copy commits first is the one kept, and every view
# must equal its SELECT over SELECT DISTINCT ON (event_id) * FROM events;
# each view's duplicates count must equal count(*) - count(DISTINCT
# event_id).  Every seventh transaction is rolled back: its keys must not
# count as seen.  Checked after a kill -9 of the worker mid-load, a kill -9
# of the postmaster mid-load and a clean restart.  Then expiry by the
# watermark: a key seen again after the watermark passed seen +
# dedup_within counts again, and the table of seen keys shrinks.  Last, a
# Kafka stream whose copies of a message land in other partitions, across
# a kill -9 of the worker; and a dump restored into another cluster: the
# table stream's views computed again, the Kafka view keeping its seen keys.
#
# CONTINUOUS_DEDUP_EVENTS sets the number of events (default 150000); not
# CONTINUOUS_TEST_EVENTS, which .ci/run sets to the crash test's million.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::MockKafka;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $total_events = $ENV{CONTINUOUS_DEDUP_EVENTS} // 150_000;
my $n_writers    = 4;
my $batch        = 500;
# distinct keys: about two copies of each event overall
my $n_keys = int($total_events / 2);

# Two workers: a Kafka stream with a unique key is consumed by the first
# alone, so that its views' seen keys cover every partition.
my $node = continuous_node('dedup', "continuous.workers = 2\n");

# The views under test; the oracle reads the deduplicated events.
my %views = (
	dd_by_group => 'SELECT k, count(*) AS c, sum(v) AS s, min(v) AS mn, max(v) AS mx '
	  . 'FROM events GROUP BY k',
	dd_totals => 'SELECT count(*) AS c, sum(v) AS s, sum(event_id::bigint) AS ids FROM events',
	dd_minutes => "SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s "
	  . 'FROM events WHERE v % 3 = 0 GROUP BY minute');

# No window closes (watermark_delay): commits of concurrent writers are out
# of event-time order, and late events are not what this test is about.
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (event_id int, k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts',
                                watermark_delay => '10 years',
                                unique_key => 'event_id', dedup_within => '1 day');
CREATE VIEW deduplicated AS SELECT DISTINCT ON (event_id) * FROM events;
});
foreach my $name (sort keys %views)
{
	$node->safe_psql('postgres', "CREATE VIEW $name WITH (continuous) AS $views{$name}");
}

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	views_equal_batches($node, \%views, 'events', 'deduplicated', $when);
	my $expected = $node->safe_psql('postgres',
		'SELECT count(*) - count(DISTINCT event_id) FROM events');
	note "$when: "
	  . $node->safe_psql('postgres', 'SELECT count(*) FROM events')
	  . " events, $expected duplicates";
	is( $node->safe_psql('postgres',
			"SELECT string_agg(DISTINCT duplicates::text, ',') FROM continuous.views "
			  . "WHERE stream = 'events'::regclass"),
		$expected,
		"$when: every view dropped exactly the $expected duplicates");
	is($node->safe_psql('postgres',
			"SELECT duplicates FROM continuous.streams WHERE stream = 'events'::regclass"),
		$expected, "$when: continuous.streams counts them");
	is( $node->safe_psql('postgres',
			'SELECT count(*) FROM continuous.dedup_keys WHERE view = '
			  . "'dd_totals'::regclass"),
		$node->safe_psql('postgres', 'SELECT count(DISTINCT event_id) FROM events'),
		"$when: the seen keys are those of the committed events");
	return $expected;
}

# Writer scripts: each event is a function of its id, so every copy of an
# event is the same row.  Writers draw ids from the same range, in
# different orders, so copies come from concurrent sessions, within a
# transaction and across transactions.
my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $script_no = 0;

sub writer_script
{
	my ($events) = @_;
	my $file = "$tempdir/writer_" . ++$script_no . '.sql';
	open(my $fh, '>', $file) or die "could not write $file: $!";
	my $txn  = 0;
	my $mult = (7, 11, 13, 17, 19, 23)[ $script_no % 6 ];
	my $off  = int(rand($n_keys));
	while ($events > 0)
	{
		my $n = $events < $batch ? $events : $batch;
		my $lo = int(rand(1_000_000));
		$txn++;
		my $rollback = $txn % 7 == 0;
		print $fh "BEGIN;\n"
		  . "INSERT INTO events SELECT id, id % 97, (id::bigint * 7919) % 10007 - 5000, "
		  . "'2026-01-01 00:00+00'::timestamptz + id * interval '10 ms' "
		  . "FROM (SELECT (($lo + g) * $mult + $off) % $n_keys AS id "
		  . "FROM generate_series(1, $n) g) s;\n"
		  . ($rollback ? "ROLLBACK;\n" : "COMMIT;\n");
		$events -= $n unless $rollback;
	}
	close($fh);
	return $file;
}

sub start_writers
{
	my ($events) = @_;
	my $per_writer = int($events / $n_writers) || 1;
	return [
		map {
			my ($out, $err) = ('', '');
			my $h = IPC::Run::start(
				[
					'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
					'-d', $node->connstr('postgres'),
					'-f', writer_script($per_writer)
				],
				'<', \undef, '>', \$out, '2>', \$err,
				IPC::Run::timeout(20 * $PostgreSQL::Test::Utils::timeout_default));
			{ h => $h, err => \$err }
		} 1 .. $n_writers
	];
}

sub finish_writers
{
	my ($writers, $what) = @_;
	foreach my $w (@$writers)
	{
		my $ok = $w->{h}->finish;
		ok($ok, "$what: writer completed");
		diag ${ $w->{err} } unless $ok;
	}
	return;
}

my $phase = int($total_events / 4);

# Writers of a phase, returned once a flush has applied some of their
# events: the worker is still behind them when the crash comes.
sub load_until_flushed
{
	my ($what) = @_;
	my $writers = start_writers($phase);
	my $before = $node->safe_psql('postgres', 'SELECT c FROM dd_totals');
	ok(poll_until($node, 'postgres', "SELECT (SELECT c FROM dd_totals) > $before"),
		"$what: views flushed new events");
	note "$what: events, and events applied: "
	  . $node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM events), (SELECT events FROM continuous.views '
		  . "WHERE view = 'dd_totals'::regclass)");
	return $writers;
}

# --- a first load, so that the views have state when the crashes come ------
my $writers = start_writers($phase);
finish_writers($writers, 'first load');
my $dups = check_views('after the first load');
cmp_ok($dups, '>', 0, 'the writers sent duplicates');

# --- kill -9 of the worker while loading ---------------------------------
$writers = load_until_flushed('worker crash');
kill9_worker_and_wait($node);
# the postmaster reset every backend, the writers' too
$_->{h}->kill_kill foreach @$writers;
check_views('after kill -9 of the worker');

# --- kill -9 of the postmaster while loading -----------------------------
$writers = load_until_flushed('postmaster crash');
kill9_postmaster_and_restart($node, sub { $_->{h}->kill_kill foreach @$writers });
check_views('after kill -9 of the postmaster');

# --- to the end, then a clean restart ------------------------------------
$writers = start_writers($phase);
finish_writers($writers, 'last load');
check_views('at the end');
$node->restart;
# the seen keys are loaded back: copies of old events are still duplicates
$node->safe_psql('postgres',
	"INSERT INTO events SELECT * FROM events WHERE event_id % 10 = 0 LIMIT 500");
check_views('after a restart and copies of old events');

# --- expiry by the watermark ---------------------------------------------
# the keys of ping_count in the table
sub ping_keys
{
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.dedup_keys WHERE view = 'ping_count'::regclass");
}

$node->safe_psql('postgres', q{
CREATE TABLE pings (id int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('pings', event_time => 'ts',
                                unique_key => 'id', dedup_within => '1 minute');
CREATE VIEW ping_count WITH (continuous) AS SELECT count(*) AS c FROM pings;
INSERT INTO pings SELECT g, '2026-02-01 00:00:00+00' FROM generate_series(1, 1000) g;
INSERT INTO pings SELECT g, '2026-02-01 00:00:30+00' FROM generate_series(1, 500) g;
SELECT continuous.sync();
});
is($node->safe_psql('postgres', 'SELECT c FROM ping_count'),
	'1000', 'expiry: copies within dedup_within are dropped');
is(ping_keys(), '1000', 'expiry: one seen key per event');

# the watermark moves ten minutes on; the batch after it forgets the keys
$node->safe_psql('postgres',
	"INSERT INTO pings VALUES (5001, '2026-02-01 00:10:00+00'); SELECT continuous.sync();");
$node->safe_psql('postgres',
	"INSERT INTO pings VALUES (5002, '2026-02-01 00:10:01+00'); SELECT continuous.sync();");
is(ping_keys(), '2', 'expiry: the keys the watermark passed are gone from the table');

# after a restart, only the unexpired keys come back
$node->restart;
$node->safe_psql('postgres', q{
INSERT INTO pings SELECT g, '2026-02-01 00:10:02+00' FROM generate_series(1, 100) g;
INSERT INTO pings VALUES (5001, '2026-02-01 00:10:03+00');
SELECT continuous.sync();
});
is($node->safe_psql('postgres', 'SELECT c FROM ping_count'),
	'1102', 'expiry: forgotten keys count again, a remembered one does not');
is( $node->safe_psql('postgres',
		"SELECT duplicates FROM continuous.views WHERE view = 'ping_count'::regclass"),
	'501', 'expiry: duplicates counted');

# --- a Kafka stream -------------------------------------------------------
# produce sends message n to partition n % 4: with 1001 distinct ids, the
# copy of a message is in another partition than the original.
my $broker = PgContinuous::MockKafka->start('clicks:4');
my $bootstrap = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");
$node->safe_psql('postgres', qq{
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE kclicks (id int, k int, ts timestamptz)
  SERVER mock
  OPTIONS (topic 'clicks', format 'json', event_time 'ts', start_offset 'earliest',
           unique_key 'id', dedup_within '1 day');
CREATE VIEW k_by_key WITH (continuous) AS
    SELECT k, count(*) AS c, sum(id) AS s FROM kclicks GROUP BY k;
CREATE VIEW k_totals WITH (continuous) AS SELECT count(*) AS c, sum(id) AS s FROM kclicks;
});
is( $node->safe_psql('postgres',
		"SELECT unique_key, dedup_within FROM continuous.stream_catalog WHERE stream = 'kclicks'::regclass"),
	'{id}|1 day', 'kafka: the foreign table\'s options are the stream\'s');

sub kafka_messages
{
	my ($from, $to) = @_;
	return map {
		my $id = $_ % 1001;
		sprintf('{"id": %d, "k": %d, "ts": "2026-03-01 00:%02d:%02d+00"}',
			$id, $id % 10, int($id / 60) % 60, $id % 60)
	} $from .. $to;
}
is($broker->produce('clicks', kafka_messages(0, 1499)), 1500, 'kafka: first half produced');
$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
kill9_worker_and_wait($node);
is($broker->produce('clicks', kafka_messages(1500, 2999)), 1500, 'kafka: second half produced');
$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
is($node->safe_psql('postgres', 'SELECT c, s FROM k_totals'),
	'1001|500500', 'kafka: each id counted once across partitions');
is_same_rows($node, 'k_by_key',
	'SELECT g % 10 AS k, count(*) AS c, sum(g) AS s FROM generate_series(0, 1000) g GROUP BY 1',
	'kafka: the view by key equals its SELECT over the distinct messages');
is( $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT duplicates::text, ',') FROM continuous.views "
		  . "WHERE stream = 'kclicks'::regclass"),
	'1999', 'kafka: duplicates counted exactly');
is( $node->safe_psql('postgres',
		"SELECT string_agg(DISTINCT worker::text, ',') FROM continuous.kafka_partitions "
		  . "WHERE stream = 'kclicks'::regclass"),
	'1', 'kafka: one worker consumes every partition');

# --- dump and restore -----------------------------------------------------
# A view of a table stream is computed again from its table, its seen keys
# with it; a view of a Kafka stream keeps its state, offsets and seen keys:
# copies of messages counted before the dump are still dropped.
$node->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
my $dump = "$tempdir/dedup.sql";
$node->command_ok([ 'pg_dump', '-f', $dump, 'postgres' ], 'pg_dump');
my $restored = continuous_node('dedup_restored', "continuous.workers = 2\n");
$restored->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-f', $dump ],
	'psql restores the dump without an error');
$restored->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
views_equal_batches($restored, \%views, 'events', 'deduplicated', 'restored');
is( $restored->safe_psql('postgres',
		"SELECT string_agg(DISTINCT duplicates::text, ',') FROM continuous.views "
		  . "WHERE stream = 'events'::regclass"),
	$restored->safe_psql('postgres', 'SELECT count(*) - count(DISTINCT event_id) FROM events'),
	'restored: the views of the table stream counted the duplicates of the table again');
is( $restored->safe_psql('postgres',
		"SELECT count(*) FROM continuous.dedup_keys WHERE view = 'k_totals'::regclass"),
	'1001', 'restored: the Kafka view has its seen keys');
is($broker->produce('clicks', kafka_messages(0, 10)), 11,
	'restored: copies of old messages produced');
$restored->safe_psql('postgres', "SELECT continuous.sync('3 minutes')");
is($restored->safe_psql('postgres', 'SELECT c, s FROM k_totals'),
	'1001|500500', 'restored: copies of messages counted before the dump are dropped');
is( $restored->safe_psql('postgres',
		"SELECT duplicates FROM continuous.views WHERE view = 'k_totals'::regclass"),
	'2010', 'restored: and counted');
$restored->stop;
$broker->stop;

is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.dead_letters'),
	'0', 'no dead letters');

$node->stop;
done_testing();
