
# Copyright (c) pg_continuous contributors

# Continuous transforms exactly once: views without aggregates append each
# event's rows to their storage, and must equal their own SELECT run as
# batch SQL over the stream table, as multisets (no row lost or doubled),
# after
#   phase A: concurrent writers (every seventh transaction rolled back) and
#            a kill -9 of the worker in the middle of loading;
#   phase B: more loading, a kill -9 of the postmaster and a restart;
#   phase C: loading to the end without interruption.
# An aggregate over the same stream checks the event count alongside.  A
# transform of a Kafka topic (the mock broker) keeps each message's row
# exactly once across a kill -9 of the worker too.
#
# CONTINUOUS_TRANSFORM_EVENTS sets the number of events (default 400000);
# not CONTINUOUS_TEST_EVENTS, which .ci/run sets to the crash test's million.

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

my $total_events = $ENV{CONTINUOUS_TRANSFORM_EVENTS} // 400_000;
my $n_writers    = 4;
my $batch        = $total_events >= 100_000 ? 100 : int($total_events / 100) || 1;

# A small continuous.state_memory: the rows of a transform's batch pass it
# (fanned: 200 windows per event), and go to a temporary file.  The worker
# sizes its batches so that their rows fit (worker_memory.c), but a batch
# holds a transaction whole: the one of 20,000 events at the end of phase
# C takes the fanned transform's rows past the bound.
my $node = continuous_node('transforms', "continuous.state_memory = '1MB'\nlog_temp_files = 0\n");

# The transforms under test, each with its defining query: the batch oracle.
my %views = (
	projected => 'SELECT k, v * 2 AS v2, upper(s) AS s, ts FROM events',
	filtered  => 'SELECT k, v, ts FROM events WHERE v % 3 = 0',
	hopped    => 'SELECT w.window_start, k % 10 AS g FROM events '
	  . "CROSS JOIN LATERAL continuous.hop(ts, '3 seconds', '1 second') AS w "
	  . 'WHERE k % 5 = 0',
	fanned => 'SELECT w.window_start, k FROM events '
	  . "CROSS JOIN LATERAL continuous.hop(ts, '200 seconds', '1 second') AS w "
	  . 'WHERE k % 50 = 0');

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (k int, v int, s text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
CREATE VIEW total WITH (continuous) AS SELECT count(*) AS c FROM events;
});
foreach my $name (sort keys %views)
{
	$node->safe_psql('postgres',
		"CREATE VIEW $name WITH (continuous) AS $views{$name}");
}
is( $node->safe_psql('postgres',
		"SELECT string_agg(view::text || ':' || kind, ',' ORDER BY view::text) "
		  . 'FROM continuous.views'),
	'fanned:transform,filtered:transform,hopped:transform,projected:transform,total:aggregate',
	'continuous.views tells transforms from aggregates');

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	is_same_rows($node, $_, $views{$_}, "$when: transform $_ equals its batch query")
	  foreach sort keys %views;
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM events');
	is($node->safe_psql('postgres', 'SELECT c FROM total'),
		$rows, "$when: the aggregate counts every committed row ($rows)");
	return $rows;
}

# Writer scripts: consecutive key ranges, so that every event is distinct;
# event times spread over a few minutes so that hops fan out.
my $next_k  = 1;
my $tempdir = PostgreSQL::Test::Utils::tempdir;

# the events of keys $lo to $hi, as an INSERT
sub insert_events
{
	my ($lo, $hi) = @_;
	return "INSERT INTO events SELECT g, (g::bigint * 7919) % 10007, 'e' || (g % 13), "
	  . "'2026-03-01 00:00:00+00'::timestamptz + (g % 600) * interval '1 second' "
	  . "FROM generate_series($lo, $hi) g";
}

sub writer_script
{
	my ($name, $events) = @_;
	my $file = "$tempdir/$name.sql";
	open(my $fh, '>', $file) or die "could not write $file: $!";
	my $txn = 0;
	while ($events > 0)
	{
		my $n = $events < $batch ? $events : $batch;
		my ($lo, $hi) = ($next_k, $next_k + $n - 1);
		$next_k += $n;
		$txn++;
		my $rollback = $txn % 7 == 0;
		print $fh "BEGIN;\n"
		  . insert_events($lo, $hi) . ";\n"
		  . ($rollback ? "ROLLBACK;\n" : "COMMIT;\n");
		$events -= $n unless $rollback;
	}
	close($fh);
	return $file;
}

sub start_writers
{
	my ($phase, $events) = @_;
	my $per_writer = int($events / $n_writers);
	return [
		map {
			my ($out, $err) = ('', '');
			my $h = IPC::Run::start(
				[
					'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d',
					$node->connstr('postgres'),
					'-f', writer_script("writer_${phase}_$_", $per_writer)
				],
				'<', \undef, '>', \$out, '2>', \$err,
				IPC::Run::timeout(20 * $PostgreSQL::Test::Utils::timeout_default));
			{ h => $h, err => \$err }
		} 1 .. $n_writers
	];
}

my $per_phase = int($total_events / 10);
note "events: $total_events, transactions of $batch";

# --- phase A: kill -9 of the worker while loading -------------------------
my $writers = start_writers('a', 4 * $per_phase);
ok( poll_until($node, 'postgres',
		'SELECT (SELECT count(*) FROM projected) > 0 '
		  . "AND (SELECT count(*) FROM events) >= @{[ int(4 * $per_phase * 0.1) ]}"),
	'phase A: loading under way and transforms flushed');
note 'phase A: events committed and counted before the kill: '
  . $node->safe_psql('postgres', 'SELECT count(*), (SELECT c FROM total) FROM events');
kill9_worker_and_wait($node);
# the crash reset every backend, writers' included
$_->{h}->kill_kill foreach @$writers;
my $rows_a = check_views('after worker crash');

# --- phase B: kill -9 of the postmaster while loading --------------------
$writers = start_writers('b', 3 * $per_phase);
ok( poll_until($node, 'postgres', "SELECT (SELECT c FROM total) > $rows_a"),
	'phase B: worker flushed new events');
kill9_postmaster_and_restart($node, sub { $_->{h}->kill_kill foreach @$writers });
check_views('after postmaster crash');

# --- phase C: load to the end --------------------------------------------
my $remaining = $total_events - $node->safe_psql('postgres', 'SELECT count(*) FROM events');
$remaining = $n_writers if $remaining < $n_writers;
$writers = start_writers('c', $remaining + $n_writers - 1);
foreach my $i (0 .. $#$writers)
{
	my $ok = $writers->[$i]{h}->finish;
	ok($ok, "phase C: writer $i completed");
	diag ${ $writers->[$i]{err} } unless $ok;
}
my ($lo, $hi) = ($next_k, $next_k + 19_999);
$next_k += 20_000;
$node->safe_psql('postgres', insert_events($lo, $hi));
my $rows = check_views('at the end');
# the worker's own temporary files, as log_temp_files reports them
my $worker = worker_pid($node);
like(slurp_file($node->logfile), qr/\[$worker\] LOG:  temporary file: /,
	'a batch of rows went past continuous.state_memory into a temporary file');
cmp_ok($rows, '>=', $total_events, "at least $total_events events committed");
is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.dead_letters'),
	'0', 'no dead letters');

# --- rebuild: storage emptied and filled again from the stream -----------
$node->safe_psql('postgres', "SELECT continuous.rebuild('hopped')");
is_same_rows($node, 'hopped', $views{hopped}, 'after rebuild: hopped equals its batch query');

# --- a Kafka stream: messages consumed across a kill -9 of the worker ----
my $broker    = PgContinuous::MockKafka->start('clicks:3');
my $bootstrap = $broker->bootstrap;
$node->safe_psql('postgres', qq{
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE kclicks (id bigint, k int, ts timestamptz)
  SERVER mock OPTIONS (topic 'clicks', format 'json', event_time 'ts',
                       start_offset 'earliest');
CREATE TABLE kclicks_batch (id bigint, k int, ts timestamptz);
CREATE VIEW kafka_kept WITH (continuous) AS
  SELECT id, k * 3 AS k3, ts FROM kclicks WHERE k % 2 = 0;
});
my $next_id = 0;

# n messages to the topic, and the same rows into the batch table
sub produce_clicks
{
	my ($n) = @_;
	my @messages = map {
		my $id = $next_id + $_;
		sprintf('{"id": %d, "k": %d, "ts": "2026-03-01T00:%02d:%02dZ"}',
			$id, $id % 17, ($id / 60) % 60, $id % 60)
	} 0 .. $n - 1;
	is($broker->produce('clicks', @messages), $n, "$n messages produced");
	$node->safe_psql('postgres',
		"INSERT INTO kclicks_batch SELECT i, i % 17, timestamptz '2026-03-01 00:00:00+00' "
		  . "+ ((i / 60) % 60) * interval '1 minute' + (i % 60) * interval '1 second' "
		  . "FROM generate_series($next_id, @{[ $next_id + $n - 1 ]}) i");
	$next_id += $n;
	return;
}

my $kafka_batch = 'SELECT id, k * 3 AS k3, ts FROM kclicks_batch WHERE k % 2 = 0';
produce_clicks(20_000);
ok(poll_until($node, 'postgres', 'SELECT count(*) > 0 FROM kafka_kept'),
	'kafka: the transform is consuming');
note 'kafka: rows kept before the kill: '
  . $node->safe_psql('postgres', 'SELECT count(*) FROM kafka_kept');
kill9_worker_and_wait($node);
produce_clicks(10_000);
$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
is_same_rows($node, 'kafka_kept', $kafka_batch,
	'kafka: the transform keeps every message once across the crash');
$broker->stop;

$node->stop;
done_testing();
