# Copyright (c) pg_continuous contributors

# A lock on one view's relations holds back that view only.
#
# Two transactions stay open while events keep coming: one has dropped a
# view (its storage is locked until it ends), the other, the owner of a
# windowed view, holds a lock on that view's late_events table.  The other
# views must stay up to date and continuous.sync() must return, warning of
# the view held back.  Then:
#
#   - the DROP is rolled back: the view catches up, counting every event
#     once, by decoding again from where it stood (the others are not
#     counted twice, nor the stream's counters);
#   - the server crashes while the late_events table is still locked: after
#     the restart the windowed view catches up too, its events judged late
#     by the watermark of when they are processed (so view + late rows =
#     batch);
#   - a DROP that commits while held leaves nothing behind;
#   - a view of a Kafka stream held back holds back its stream (the
#     offsets are the stream's): the table streams' views go on, and once
#     the DROP rolls back both views of the stream count every message once.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::MockKafka;
use IPC::Run;

my $node = continuous_node('view_locks', "continuous.flush_interval = '50ms'\n");

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE ROLE alice LOGIN;
GRANT CREATE ON SCHEMA public TO alice;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('ev', event_time => 'ts');
GRANT SELECT ON ev TO alice;
CREATE VIEW per_group WITH (continuous) AS
    SELECT k % 10 AS g, count(*) AS c, sum(v) AS s FROM ev GROUP BY g;
CREATE VIEW to_drop WITH (continuous) AS
    SELECT k % 7 AS g, count(*) AS c, max(v) AS m FROM ev GROUP BY g;
CREATE VIEW runs WITH (continuous) AS
    SELECT k % 3 AS g, continuous.count_window(50) AS run, count(*) AS c FROM ev GROUP BY g, run;
});
$node->safe_psql('postgres', q{
CREATE TABLE late_rows (LIKE ev);
CREATE VIEW per_minute WITH (continuous, late_events = 'late_rows') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s
      FROM ev GROUP BY minute;
}, extra_params => [ '-U', 'alice' ]);

# events in event-time order, one every 100 ms; some transactions roll back
my $next = 0;
sub load
{
	my ($n) = @_;
	my $from = $next + 1;
	$next += $n;
	$node->safe_psql('postgres', qq{
BEGIN;
INSERT INTO ev SELECT g, g % 13, timestamptz '2026-01-01' + g * interval '100 ms'
  FROM generate_series($from, $next) g;
COMMIT;
BEGIN;
INSERT INTO ev SELECT g, 1000, timestamptz '2026-01-01' FROM generate_series(1, 100) g;
ROLLBACK;
});
	return;
}

my %batch = (
	per_group => 'SELECT k % 10 AS g, count(*) AS c, sum(v) AS s FROM ev GROUP BY g',
	to_drop   => 'SELECT k % 7 AS g, count(*) AS c, max(v) AS m FROM ev GROUP BY g',
	runs      => q{SELECT g, run, least(50, n - run * 50) AS c
	                 FROM (SELECT k % 3 AS g, count(*) AS n FROM ev GROUP BY 1) t,
	                      generate_series(0, (n - 1) / 50) AS run});
# the windowed view with its late rows: every event counted once
my $per_minute_and_late = q{
SELECT minute, sum(c) AS c, sum(s) AS s FROM (
    SELECT minute, c, s FROM per_minute
    UNION ALL
    SELECT continuous.tumble(ts, '1 minute'), count(*), sum(v) FROM late_rows GROUP BY 1) u
 GROUP BY minute};
my $per_minute_batch =
  q{SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c, sum(v) AS s FROM ev GROUP BY minute};

sub check_views
{
	my ($when, @names) = @_;
	is_same_rows($node, $_, $batch{$_}, "$when: $_ equals its batch query") foreach @names;
	return;
}

sub stream_events
{
	return $node->safe_psql('postgres',
		q{SELECT events = (SELECT count(*) FROM ev) FROM continuous.streams WHERE stream = 'ev'::regclass});
}

load(2000);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_views('before any lock', qw(per_group to_drop runs));
is_same_rows($node, 'per_minute', $per_minute_batch, 'before any lock: per_minute equals its batch query');

# --- two views held back ------------------------------------------------------
my $dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN; DROP VIEW to_drop');
my $locker = $node->background_psql('postgres', extra_params => [ '-U', 'alice' ]);
$locker->query_safe('BEGIN; LOCK TABLE late_rows IN SHARE MODE');

load(1500);
load(1500);
my ($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('60 seconds')});
is($ret, 0, 'sync() returns while two views are held back by locks') or diag $err;
like($err, qr/continuous view per_minute is held back by a lock/,
	'and warns of the view whose late_events table is locked');
check_views('two views held back', qw(per_group runs));
is(stream_events(), 't', 'the stream counts each event once');
is($node->safe_psql('postgres',
	q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'per_minute'::regclass}),
	'waiting: another transaction holds a lock on public.late_rows; the view catches up once it is released',
	'continuous.views says why per_minute waits');
ok($node->log_contains('continuous view "to_drop" is held back by a lock'),
	'the log names each view held back');

# --- the DROP rolls back: the view catches up ------------------------------------
$dropper->query_safe('ROLLBACK');
load(700);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_views('after the DROP rolled back', qw(per_group to_drop runs));
is(stream_events(), 't', 'the stream still counts each event once');
ok($node->log_contains('decoding again from'), 'the worker decoded again for the view held back');

# --- a crash while the late_events table is locked ------------------------------
load(900);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
kill9_worker_and_wait($node);
# the crash ended every session: the lock too
$dropper->quit;
$locker->quit;
load(300);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_views('after a crash', qw(per_group to_drop runs));
is(stream_events(), 't', 'after the crash the stream counts each event once');
is_same_rows($node, $per_minute_and_late, $per_minute_batch,
	'per_minute with its late rows counts every event once');
cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM late_rows'), '>', 0,
	'events of windows closed while per_minute was held back are late');
is($node->safe_psql('postgres',
	q{SELECT status FROM continuous.views WHERE view = 'per_minute'::regclass}),
	'active', 'per_minute is active again');

# --- a DROP that commits while the view is held back -----------------------------
$dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN; DROP VIEW runs');
load(400);
($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('60 seconds')});
is($ret, 0, 'sync() returns while a DROP VIEW is open') or diag $err;
$dropper->query_safe('COMMIT');
$dropper->quit;
load(400);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_views('after the DROP committed', qw(per_group to_drop));
is($node->safe_psql('postgres',
	q{SELECT cardinality(behind_views) FROM continuous.decoder_position}),
	'0', 'no view is left behind');

# --- a view of a Kafka stream --------------------------------------------------
my $broker  = PgContinuous::MockKafka->start('orders:2');
my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $produced = 0;
sub produce
{
	my ($n) = @_;
	my $file = "$tempdir/orders.json";
	open(my $fh, '>', $file) or die;
	print $fh qq({"k": @{[ $_ % 5 ]}, "v": $_}\n) for $produced + 1 .. $produced + $n;
	close($fh);
	$produced += $n;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'kafka/produce', '-b', $broker->bootstrap, '-t', 'orders' ],
		'<', $file, '>', \$out, '2>', \$err)
	  or die "produce failed: $err";
	return;
}
sub kafka_sums
{
	my ($view) = @_;
	return $node->safe_psql('postgres', "SELECT sum(n), sum(s) FROM $view");
}
sub expected_sums
{
	my ($n) = @_;
	return "$n|" . ($n * ($n + 1) / 2);
}

$node->safe_psql('postgres', qq{
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '@{[ $broker->bootstrap ]}', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (k int, v int) SERVER mock
    OPTIONS (topic 'orders', format 'json', start_offset 'earliest');
CREATE VIEW orders_by_k WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM orders GROUP BY k;
CREATE VIEW orders_total WITH (continuous) AS SELECT count(*) AS n, sum(v) AS s FROM orders;
});
produce(1000);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is(kafka_sums('orders_by_k'), expected_sums(1000), 'Kafka: orders_by_k counts every message');

$dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN; DROP VIEW orders_total');
produce(1000);
load(500);
($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('60 seconds')});
is($ret, 0, 'sync() returns while a view of a Kafka stream is held back') or diag $err
  . $node->safe_psql('postgres', q{SELECT pid, backend_type, wait_event_type, wait_event, state, left(query, 60) FROM pg_stat_activity})
  . $node->safe_psql('postgres', q{SELECT locktype, relation::regclass, mode, pid, granted FROM pg_locks WHERE NOT granted});

check_views('a Kafka view held back', qw(per_group to_drop));
is(kafka_sums('orders_by_k'), expected_sums(1000),
	'the other view of the Kafka stream is held back with it');
$dropper->query_safe('ROLLBACK');
$dropper->quit;
produce(500);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is(kafka_sums('orders_by_k'), expected_sums(2500),
	'after the DROP rolled back, orders_by_k counts every message once');
is(kafka_sums('orders_total'), expected_sums(2500),
	'and so does orders_total');
check_views('after the Kafka view came back', qw(per_group to_drop));
$broker->stop;

$node->stop;
done_testing();
