# Copyright (c) pg_continuous contributors

# continuous.view_time_limit holds against owner code that does not want
# to stop, wherever the worker runs it:
#   - a view's WHERE that catches its cancel (EXCEPTION WHEN
#     query_canceled) and sleeps again: the worker is terminated a few
#     seconds after the cancel, and its successor fails that view before
#     it runs anything, once; the other views stay exact;
#   - a view whose definition calls an IMMUTABLE function that sleeps in
#     the worker only: it runs while the worker plans the view (its
#     constant folded), which fails that view;
#   - a view whose WHERE sleeps in the rows of a large transaction that
#     the worker runs before the commit: it gives those up in time, and
#     fails at the commit;
#   - a Kafka stream whose column's domain CHECK sleeps, and one whose
#     CHECK catches its cancel: neither stream is consumed any longer
#     (continuous.streams says why, sync() names them), nothing of theirs
#     becomes a dead letter, the other Kafka stream and the table stream
#     go on; once the domains are mended and the catalog changes, both are
#     consumed from their stored offsets and count each message once.
#   - a view whose code sleeps, and one whose code loops catching its
#     cancel, as a promoted standby computes every view again from its
#     table: both fail, the worker is terminated once, the other views are
#     computed again exactly.
# A database owner who is not a superuser does all of this.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Failover;
use PgContinuous::MockKafka;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $broker    = PgContinuous::MockKafka->start('fine:2', 'slow:1', 'stubborn:1');
my $bootstrap = $broker->bootstrap;

my $node = continuous_node('owner_code_time_limit', q{
continuous.view_time_limit = '2s'
logical_decoding_work_mem = '64kB'
});
$node->safe_psql('postgres', q{
CREATE ROLE alice LOGIN;
CREATE DATABASE adb OWNER alice;
});
$node->safe_psql('adb', qq{
CREATE EXTENSION pg_continuous;
GRANT USAGE ON FOREIGN DATA WRAPPER continuous_kafka TO alice;
CREATE SERVER kafka FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
GRANT USAGE ON FOREIGN SERVER kafka TO alice;
});

sub alice
{
	my ($sql) = @_;
	return $node->safe_psql('adb', "SET ROLE alice; $sql");
}

# sync() as alice: (its exit code, its stderr)
sub alice_sync
{
	my ($ret, $out, $err) =
	  $node->psql('adb', q{SET ROLE alice; SELECT continuous.sync('2 minutes')});
	return ($ret, $err);
}

# CREATE FUNCTION public.NAME(int) of its owner's: while the condition
# "when" holds, it sleeps an hour (saying so in the server log first), and
# catches each cancel too if "catches"; then returns true, or its argument
# if "returns" is int.
sub stalling_function
{
	my ($name, %o) = @_;
	my $returns = $o{returns} // 'bool';
	my $wait =
	  $o{catches}
	  ? "WHILE $o{when} LOOP
        BEGIN
            PERFORM pg_sleep(3600);
        EXCEPTION WHEN query_canceled THEN
            NULL;
        END;
    END LOOP;"
	  : "IF $o{when} THEN
        RAISE LOG '$name: sleeping';
        PERFORM pg_sleep(3600);
    END IF;";
	return "CREATE FUNCTION public.$name(int) RETURNS $returns LANGUAGE plpgsql "
	  . ($o{volatility} // 'VOLATILE') . " AS \$\$
BEGIN
    $wait
    RETURN " . ($returns eq 'int' ? '$1' : 'true') . ";
END \$\$;\n";
}

my $worker_pid = q{SELECT pid FROM pg_stat_activity
    WHERE backend_type = 'pg_continuous worker' AND datname = 'adb'};

# --- a view whose code catches its cancel ---------------------------------
alice(stalling_function('stubborn', when => 'true', catches => 1, volatility => 'STABLE')
	. q{
CREATE TABLE ev (k int, v int);
SELECT continuous.create_stream('ev');
CREATE VIEW good WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
CREATE VIEW stubborn WITH (continuous) AS
    SELECT k, count(*) AS n FROM ev WHERE public.stubborn(k) GROUP BY k;
});
my $first_worker = $node->safe_psql('adb', $worker_pid);
my $log_at = -s $node->logfile;
alice(q{INSERT INTO ev SELECT g % 7, g FROM generate_series(1, 1000) g});
my ($ret, $err) = alice_sync();
is($ret, 0, 'sync() returns although a view\'s code would not stop');
like($err, qr/continuous view stubborn has failed/, 'and warns of that view');
isnt($node->safe_psql('adb', $worker_pid), $first_worker,
	'the worker that ran the code was terminated, and another serves the database');
like(alice(q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'stubborn'::regclass}),
	qr/^failed: continuous view "stubborn" went on for 5000 ms after continuous\.view_time_limit \(2000 ms\) cancelled it; the worker was restarted to stop it$/,
	'the view has failed and says why');
is_same_rows($node, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'the other view of its stream is exact', 'adb');
is(alice(q{SELECT count(*) FROM continuous.dead_letters}), '0',
	'no event became a dead letter');

my $second_worker = $node->safe_psql('adb', $worker_pid);
alice(q{INSERT INTO ev SELECT g % 7, g FROM generate_series(1001, 2000) g});
($ret, $err) = alice_sync();
is($ret, 0, 'the next events are applied');
is($node->safe_psql('adb', $worker_pid), $second_worker,
	'by the same worker: the failed view is not run again');
is_same_rows($node, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'and the other view is still exact', 'adb');
my $log = slurp_file($node->logfile, $log_at);
my @terminated = $log =~ /terminating background worker "pg_continuous worker" due to administrator command/g;
is(scalar @terminated, 1, 'the worker was terminated once');

# --- code that the worker runs while it plans a view ----------------------
# The function sleeps where the setting test.awake is not on: in the
# worker, not in the session that creates the view (and computes it over
# the stream's rows so far).
my $asleep = q{current_setting('test.awake', true) IS DISTINCT FROM 'on'};
alice(stalling_function('slow_in_worker', when => $asleep, returns => 'int',
		volatility => 'IMMUTABLE')
	. q{
SET test.awake = on;
CREATE VIEW planned_slowly WITH (continuous) AS
    SELECT k, count(*) AS n FROM ev WHERE k >= public.slow_in_worker(0) GROUP BY k;
INSERT INTO ev SELECT g % 7, g FROM generate_series(2001, 3000) g;
});
($ret, $err) = alice_sync();
is($ret, 0, 'sync() returns although a view\'s set-up sleeps');
like(alice(q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'planned_slowly'::regclass}),
	qr/^failed: setting up continuous view "planned_slowly" took longer than continuous\.view_time_limit \(2000 ms\)$/,
	'the view whose planning sleeps has failed and says why');
is($node->safe_psql('adb', $worker_pid), $second_worker,
	'without terminating the worker');
is_same_rows($node, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'the other view is exact', 'adb');

# --- code that sleeps while a large transaction streams ------------------
# The worker runs the rows of a transaction still open through the views
# that can take them early; the limit holds there too, and the view
# then fails as the transaction commits.
alice(stalling_function('sleeps_unless_awake',
		when => $asleep, volatility => 'STABLE')
	. q{
SET test.awake = on;
CREATE VIEW sleeps_early WITH (continuous) AS
    SELECT k, count(*) AS n FROM ev WHERE public.sleeps_unless_awake(k) GROUP BY k;
});
($ret, $err) = alice_sync();
$log_at = -s $node->logfile;
my $big = $node->background_psql('adb');
$big->query_safe(q{SET ROLE alice; BEGIN;
    INSERT INTO ev SELECT g % 7, g FROM generate_series(10001, 40000) g;});
$node->wait_for_log(qr/sleeps_unless_awake: sleeping/, $log_at);
ok(1, 'the view sleeps in the rows of the open transaction');
$big->query_safe('COMMIT');
$big->quit;
($ret, $err) = alice_sync();
is($ret, 0, 'sync() returns once the transaction commits');
like(alice(q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'sleeps_early'::regclass}),
	qr/^failed: continuous view "sleeps_early" took longer than continuous\.view_time_limit \(2000 ms\) to process or write its batch$/,
	'the view has failed and says why');
is_same_rows($node, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'the other view has the transaction\'s rows', 'adb');

# --- Kafka streams whose domain checks do not return ----------------------
sub produce
{
	my ($topic, $from, $to) = @_;
	return $broker->produce($topic,
		map { qq({"k": @{[ $_ % 5 ]}, "v": $_}) } $from .. $to);
}
alice(q{
} . stalling_function('sleeps_at_13', when => '$1 = 13')
	. stalling_function('loops_at_13', when => '$1 = 13', catches => 1) . q{
CREATE DOMAIN sleepy_int AS int CHECK (public.sleeps_at_13(VALUE));
CREATE DOMAIN loopy_int AS int CHECK (public.loops_at_13(VALUE));
CREATE FOREIGN TABLE fine (k int, v int) SERVER kafka
    OPTIONS (topic 'fine', format 'json', start_offset 'earliest');
CREATE FOREIGN TABLE slow (k int, v sleepy_int) SERVER kafka
    OPTIONS (topic 'slow', format 'json', start_offset 'earliest');
CREATE FOREIGN TABLE stubborn_topic (k int, v loopy_int) SERVER kafka
    OPTIONS (topic 'stubborn', format 'json', start_offset 'earliest');
CREATE VIEW fine_view WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM fine GROUP BY k;
CREATE VIEW slow_view WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM slow GROUP BY k;
CREATE VIEW stubborn_view WITH (continuous) AS SELECT k, count(*) AS n, sum(v) AS s FROM stubborn_topic GROUP BY k;
});
is(produce('fine',     1, 1000), 1000, 'produced to the healthy topic');
is(produce('slow',     1, 100),  100,  'produced to the topic whose check sleeps');
is(produce('stubborn', 1, 100),  100,  'produced to the topic whose check loops');
my $before_kafka = $node->safe_psql('adb', $worker_pid);

($ret, $err) = alice_sync();
isnt($ret, 0, 'sync() fails while the streams are not consumed');
like($err, qr/2 Kafka streams are not consumed, among them slow\nDETAIL:  slow: decoding its messages/,
	'and names them, and why');
for my $stream ('slow', 'stubborn_topic')
{
	like(alice(qq{SELECT last_error FROM continuous.streams WHERE stream = '$stream'::regclass}),
		qr/^decoding its messages \(its columns' input functions and domain checks\) took longer than continuous\.view_time_limit \(2000 ms\)$/,
		"continuous.streams says why $stream is not consumed");
}
isnt($node->safe_psql('adb', $worker_pid), $before_kafka,
	'the check that caught its cancel had the worker terminated');
is(alice('SELECT sum(n), sum(s) FROM fine_view'), '1000|500500',
	'the healthy Kafka stream is applied');
alice(q{INSERT INTO ev SELECT g % 7, g FROM generate_series(3001, 4000) g});
is(produce('fine', 1001, 1100), 100, 'more for the healthy topic');
($ret, $err) = alice_sync();
is(alice('SELECT sum(n), sum(s) FROM fine_view'), '1100|605550',
	'the healthy Kafka stream goes on');
is_same_rows($node, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'and so does the table stream', 'adb');
is(alice(q{SELECT count(*) FROM continuous.dead_letters}), '0',
	'no message became a dead letter');
is(alice(q{SELECT coalesce(sum(n), 0) FROM slow_view}) . '/'
	  . alice(q{SELECT coalesce(sum(n), 0) FROM stubborn_view}),
	'0/0', 'nothing of the stalled streams was applied');

# mended, and the catalog changes: consumed from their stored offsets
alice(q{
CREATE OR REPLACE FUNCTION public.sleeps_at_13(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
CREATE OR REPLACE FUNCTION public.loops_at_13(int) RETURNS bool LANGUAGE sql AS 'SELECT true';
ALTER FOREIGN TABLE slow OPTIONS (ADD watermark_delay '1 second');
});
($ret, $err) = alice_sync();
is($ret, 0, 'once mended, sync() succeeds') or diag $err;
is(alice('SELECT sum(n), sum(s) FROM slow_view') . '/'
	  . alice('SELECT sum(n), sum(s) FROM stubborn_view'),
	'100|5050/100|5050', 'both streams count every message once');
is(alice(q{SELECT count(*) FROM continuous.streams WHERE last_error IS NOT NULL}), '0',
	'and no stream has an error left');
is(alice('SELECT sum(n), sum(s) FROM fine_view'), '1100|605550',
	'the healthy stream counted nothing twice');

# --- code that will not stop, as a promoted standby computes views again --
# The functions sleep, or loop catching their cancel, once a flag is set:
# on the primary after its worker has applied every row, so that only the
# standby's rebuild (every view of a table stream, from its table) runs
# into them.  The worker that loops is terminated; its successor computes
# the views again without that one.
my $flagged = 'EXISTS (SELECT FROM public.rebuild_sleeps)';
alice(q{
DROP VIEW stubborn, planned_slowly, sleeps_early;
CREATE TABLE public.rebuild_sleeps (b bool);
} . stalling_function('sleeps_if_flagged', when => $flagged, volatility => 'STABLE')
	. stalling_function('loops_if_flagged', when => $flagged, catches => 1,
		volatility => 'STABLE') . q{
CREATE VIEW rebuilt_sleepy WITH (continuous) AS
    SELECT k, count(*) AS n FROM ev WHERE public.sleeps_if_flagged(k) GROUP BY k;
CREATE VIEW rebuilt_stubborn WITH (continuous) AS
    SELECT k, count(*) AS n FROM ev WHERE public.loops_if_flagged(k) GROUP BY k;
});
($ret, $err) = alice_sync();
is($ret, 0, 'the views to be computed again are up to date on the primary');
alice(q{INSERT INTO public.rebuild_sleeps VALUES (true)});
my $standby = streaming_standby($node, 'promoted');
stop_primary_after_catchup($node, $standby);
$log_at = -s $standby->logfile;
promote_standby($standby);
($ret, undef, $err) = $standby->psql('adb',
	q{SET ROLE alice; SELECT continuous.sync('2 minutes')});
is($ret, 0, 'the promoted standby\'s views are up to date') or diag $err;
like($standby->safe_psql('adb', q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'rebuilt_sleepy'::regclass}),
	qr/^failed: it could not be computed again from its stream table after .*: computing it took longer than continuous\.view_time_limit \(2000 ms\)$/,
	'the view whose code sleeps failed as it was computed again');
like($standby->safe_psql('adb', q{SELECT status || ': ' || last_error FROM continuous.views WHERE view = 'rebuilt_stubborn'::regclass}),
	qr/^failed: continuous view "rebuilt_stubborn" went on for 5000 ms after continuous\.view_time_limit \(2000 ms\) cancelled it; the worker was restarted to stop it$/,
	'the view whose code loops failed, once its worker was terminated');
is_same_rows($standby, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'the other view was computed again, exact', 'adb');
$standby->safe_psql('adb', q{SET ROLE alice; INSERT INTO ev SELECT g % 7, g FROM generate_series(50001, 51000) g});
($ret, undef, $err) = $standby->psql('adb',
	q{SET ROLE alice; SELECT continuous.sync('2 minutes')});
is_same_rows($standby, 'good', 'SELECT k, count(*), sum(v) FROM ev GROUP BY k',
	'and goes on', 'adb');
$log = slurp_file($standby->logfile, $log_at);
@terminated = $log =~ /terminating background worker "pg_continuous worker" due to administrator command/g;
is(scalar @terminated, 1, 'the standby\'s worker was terminated once');

$broker->stop;
$standby->stop;
done_testing();
