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
#   - a view of a Kafka stream held back holds back that view only: the
#     other view of its stream goes on consuming, and the held one keeps
#     offsets of its own (continuous.kafka_view_offsets); once the lock
#     (a LOCK of its late_events table, a DROP VIEW) is gone it catches up
#     from them, counting every message once, also across a kill -9 of the
#     worker while it is held and while it catches up; a DROP that commits
#     while it is held leaves no offsets behind;
#     with two workers, each keeps and catches up the view's offsets of its
#     own partitions.

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
my $bad = 0;
sub produce_lines
{
	my (@lines) = @_;
	my $file = "$tempdir/orders.json";
	open(my $fh, '>', $file) or die;
	print $fh "$_\n" foreach @lines;
	close($fh);
	my ($out, $err) = ('', '');
	IPC::Run::run([ PgContinuous::MockKafka->tool('produce'), '-b', $broker->bootstrap, '-t', 'orders' ],
		'<', $file, '>', \$out, '2>', \$err)
	  or die "produce failed: $err";
	return;
}
# every message produced is also in orders_sent: the views' batch oracle
sub produce
{
	my ($n) = @_;
	produce_lines(map { qq({"k": @{[ $_ % 5 ]}, "v": $_, "ts": "2026-01-01T00:00:00Z"}) }
		  $produced + 1 .. $produced + $n);
	$node->safe_psql('postgres',
		"INSERT INTO orders_sent SELECT g % 5, g, '2026-01-01 00:00:00Z' FROM generate_series($produced + 1, $produced + $n) g");
	$produced += $n;
	return;
}
my %kafka_views = (
	orders_by_k  => 'SELECT k, count(*) AS n, sum(v) AS s FROM orders GROUP BY k',
	orders_total => q{SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS s
	                    FROM orders GROUP BY hour});
sub check_kafka_view
{
	my ($when, $name) = @_;
	views_equal_batches($node, { $name => $kafka_views{$name} }, 'orders', 'orders_sent', $when);
	return;
}
# the sum of a view's own offsets, or of the stream's
sub view_offsets
{
	return $node->safe_psql('postgres', q{
SELECT count(*) || '|' || coalesce(sum(next_offset), 0) FROM continuous.kafka_view_offsets
 WHERE view = 'orders_total'::regclass});
}
# a message that becomes a dead letter
sub produce_bad
{
	produce_lines('{"k": "not a number", "v": 0, "ts": "2026-01-01T00:00:00Z"}');
	$bad++;
	return;
}
# the stream counts each message once: events, dead letters
sub stream_counts
{
	return $node->safe_psql('postgres', q{
SELECT s.events || '|' || s.errors || '|' || (SELECT count(*) FROM continuous.dead_letters d
                                               WHERE d.stream = 'orders'::regclass)
  FROM continuous.streams s WHERE s.stream = 'orders'::regclass});
}
# kafka_partitions: the views behind the stream, and how far
sub views_behind
{
	return $node->safe_psql('postgres', q{
SELECT count(views_behind) || '|' || coalesce(string_agg(DISTINCT views_behind::text, ','), '')
       || '|' || coalesce(sum(views_behind_lag), 0)
  FROM continuous.kafka_partitions WHERE stream = 'orders'::regclass});
}
sub stream_offsets
{
	return $node->safe_psql('postgres', q{
SELECT sum(committed_offset) || '|' || sum(lag) FROM continuous.kafka_partitions
 WHERE stream = 'orders'::regclass});
}
sub sync_warns
{
	my ($when) = @_;
	my ($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('60 seconds')});
	is($ret, 0, "$when: sync() returns") or diag $err;
	like($err, qr/continuous view orders_total is held back by a lock/,
		"$when: sync() warns of the view held back");
	return;
}

$node->safe_psql('postgres', qq{
CREATE TABLE orders_sent (k int, v int, ts timestamptz);
CREATE TABLE late_orders (k int, v int, ts timestamptz);
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '@{[ $broker->bootstrap ]}', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (k int, v int, ts timestamptz) SERVER mock
    OPTIONS (topic 'orders', format 'json', start_offset 'earliest', event_time 'ts');
CREATE VIEW orders_by_k WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM orders GROUP BY k;
CREATE VIEW orders_total WITH (continuous, late_events = 'late_orders') AS
    SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS s
      FROM orders GROUP BY hour;
});
produce(1000);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_kafka_view('Kafka, before any lock', $_) foreach sort keys %kafka_views;

# held while its sibling goes on
$locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE late_orders IN SHARE MODE');
produce(1000);
produce_bad();
load(500);
sync_warns('a Kafka view held back');
check_kafka_view('the sibling of a Kafka view held back', 'orders_by_k');
check_views('a Kafka view held back', qw(per_group to_drop));
is($node->safe_psql('postgres', 'SELECT n FROM orders_total'), '1000',
	'the Kafka view held back stays as it was');
is(view_offsets(), '2|1000', 'it keeps its own offsets, on each partition');
is(stream_offsets(), ($produced + $bad) . '|0',
	'kafka_partitions shows the stream, which its other view is up to');
is(views_behind(), '2|{orders_total}|' . ($produced + $bad - 1000),
	'and, on each partition, the view behind and its lag');
is($node->safe_psql('postgres',
	q{SELECT status FROM continuous.views WHERE view = 'orders_total'::regclass}),
	'waiting', 'continuous.views says the Kafka view waits');

# the lock is gone: the view catches up from its own offsets
$locker->query_safe('ROLLBACK');
$locker->quit;
produce(500);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_kafka_view('after the lock is gone', $_) foreach sort keys %kafka_views;
is($node->safe_psql('postgres',
	q{SELECT status FROM continuous.views WHERE view = 'orders_total'::regclass}),
	'active', 'continuous.views says the Kafka view is active again');
is(view_offsets(), '0|0', 'once caught up, the view has no offsets of its own');
is(views_behind(), '0||0', 'kafka_partitions shows no view behind');
is(stream_offsets(), ($produced + $bad) . '|0', 'and the stream is where it was');
is(stream_counts(), ($produced + $bad) . '|1|1',
	'the stream counted each message once, and wrote its dead letter once');

# kill -9 of the worker while a DROP VIEW holds the view (the crash ends the
# DROP too); its statistics row is the DROP's: no warning to check
$dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN; DROP VIEW orders_total');
produce(1000);
($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('60 seconds')});
is($ret, 0, 'sync() returns while a DROP VIEW of a Kafka view is open') or diag $err;
check_kafka_view('held again', 'orders_by_k');
is(view_offsets(), '2|' . ($produced + $bad - 1000), 'held again: its offsets are where it stopped');
kill9_worker_and_wait($node);
$dropper->quit;
produce(300);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_kafka_view('after a kill -9 while held', $_) foreach sort keys %kafka_views;
is(view_offsets(), '0|0', 'after a kill -9 while held, the view caught up');

# kill -9 of the worker while the view catches up: small batches make the
# catch-up many flushes, and the worker is killed once some are committed
$node->append_conf('postgresql.conf', "continuous.batch_events = 5\n");
$node->reload;
$locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE late_orders IN SHARE MODE');
produce(4000);
sync_warns('held before a slow catch-up');
my $held_at = $produced + $bad - 4000;
is(view_offsets(), "2|$held_at", 'held before a slow catch-up: its offsets');
$locker->query_safe('ROLLBACK');
$locker->quit;
ok(poll_until($node, 'postgres', qq{
SELECT count(*) = 0 OR sum(next_offset) > $held_at FROM continuous.kafka_view_offsets
 WHERE view = 'orders_total'::regclass}), 'the view catches up');
my $catching_up = view_offsets();
kill9_worker_and_wait($node);
isnt($catching_up, '0|0', "the worker is killed while the view catches up (at $catching_up)");
$node->append_conf('postgresql.conf', "continuous.batch_events = 100000\n");
$node->reload;
produce(200);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_kafka_view('after a kill -9 while catching up', $_) foreach sort keys %kafka_views;
is(view_offsets(), '0|0', 'after a kill -9 while catching up, the view caught up');
check_views('after the Kafka view came back', qw(per_group to_drop));

# a DROP that commits while the view is held leaves no offsets behind
$dropper = $node->background_psql('postgres');
$dropper->query_safe('BEGIN; DROP VIEW orders_total');
produce(500);
($ret, $out, $err) = $node->psql('postgres', q{SELECT continuous.sync('60 seconds')});
is($ret, 0, 'sync() returns before the DROP VIEW commits') or diag $err;
is(view_offsets(), '2|' . ($produced + $bad - 500), 'held before its DROP commits: its offsets');
$dropper->query_safe('COMMIT');
$dropper->quit;
produce(500);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.kafka_view_offsets'),
	'0', 'the DROP committed: no offsets of the view are left');
check_kafka_view('after the DROP committed', 'orders_by_k');
is(stream_offsets(), ($produced + $bad) . '|0', 'the stream has consumed every message');
is(stream_counts(), ($produced + $bad) . '|1|1',
	'through every crash the stream counted each message once, its dead letter too');

# two workers, one partition each: each keeps the view's offsets of its own
# partition, and each catches the view up on it
$node->append_conf('postgresql.conf', "continuous.workers = 2\n");
$node->restart;
ok(poll_until($node, 'postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker'"),
	'two workers run');
$node->safe_psql('postgres', q{
CREATE VIEW orders_total WITH (continuous, late_events = 'late_orders') AS
    SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS s
      FROM orders GROUP BY hour;
});
# both workers know the view before messages come
$node->safe_psql('postgres', 'SELECT continuous.sync(); TRUNCATE orders_sent');
produce(400);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_kafka_view('two workers', 'orders_total');
$locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE late_orders IN SHARE MODE');
produce(1000);
sync_warns('two workers, the view held');
is($node->safe_psql('postgres', q{
SELECT count(DISTINCT p.worker) || '|' || count(*) FROM continuous.kafka_view_offsets k
  JOIN continuous.kafka_partitions p ON p.stream = k.stream AND p."partition" = k."partition"
 WHERE k.view = 'orders_total'::regclass}),
	'2|2', 'two workers: each wrote the offsets of its partition');
$locker->query_safe('ROLLBACK');
$locker->quit;
produce(300);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
check_kafka_view('two workers, after the lock', 'orders_total');
is(view_offsets(), '0|0', 'two workers: the view caught up on both partitions');

# a view created while the workers consume begins where the stream's
# flushed offsets stand in its creating transaction, whichever worker
# flushes before it loads the view: it counts every message after them
produce(2000);
my $pinned = $node->safe_psql('postgres', q{
BEGIN;
CREATE VIEW orders_late_comer WITH (continuous) AS
    SELECT k, count(*) AS n FROM orders GROUP BY k;
SELECT coalesce(sum(next_offset), 0) FROM continuous.kafka_view_offsets
 WHERE view = 'orders_late_comer'::regclass;
COMMIT;});
produce(500);
$node->safe_psql('postgres', 'SELECT continuous.sync()');
my $committed = $node->safe_psql('postgres', q{
SELECT sum(committed_offset) FROM continuous.kafka_partitions WHERE stream = 'orders'::regclass});
is($node->safe_psql('postgres', 'SELECT sum(n) FROM orders_late_comer'),
	$committed - $pinned,
	'a view created while the workers consume counts every message after the offsets it began at');
cmp_ok($pinned, '>', 0, '... which are the stream\'s, not the topic\'s start');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM continuous.kafka_view_offsets WHERE view = 'orders_late_comer'::regclass}),
	'0', '... and it has caught up');
$broker->stop;

$node->stop;
done_testing();
