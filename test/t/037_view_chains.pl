# Copyright (c) pg_continuous contributors

# Views over views, exactly once: a chain of three continuous views
# (10-second windows closed -> minutes closed -> 5-minute totals), and a
# view over a continuous transform, over
# events that four sessions write concurrently, with a transaction in five
# rolled back, across kill -9 of the postmaster while they load, a CREATE
# VIEW at the end of the chain while they load (its emission table filled
# while the worker flushes), kill -9 of the worker, a restart, a dump
# restored, and a restore whose view over the transform comes back while
# the new worker computes the transform again.  After each, with
# continuous.sync():
#   - the first view's closed windows are the batch windows over the events
#     that the watermark has closed (no event is late: sessions write in
#     event-time order, and none begins a transaction more than one ahead
#     of another's, so that the disorder between their commits stays inside
#     allowed_lateness however the sessions are scheduled);
#   - each later view equals its SELECT run over the view it reads;
#   - each emission table holds each closed window of its view exactly
#     once, and nothing else.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Lockstep;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $sessions = 4;
my $rows     = 500;    # per transaction

my $node = continuous_node('view_chains');

# Event k happens k * 10 ms after the origin; the sequence hands out k in
# order of the INSERTs, so a session's events are in event-time order.
# Between two sessions, what bounds the disorder is PgContinuous::Lockstep,
# not the scheduler: a session stalled after taking its k would otherwise
# let the others commit events more than allowed_lateness ahead of its
# own, which the view rightly counts as late.
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE SEQUENCE ks;
CREATE TABLE events (k bigint, s int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
CREATE VIEW tens_closed
    WITH (continuous, emit = 'window_close', allowed_lateness = '1 minute') AS
    SELECT continuous.tumble(ts, '10 seconds') AS w, s, count(*) AS c, sum(v) AS total
      FROM events GROUP BY w, s;
CREATE VIEW minutes_closed WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(w, '1 minute') AS minute, count(*) AS windows,
           sum(c) AS c, sum(total) AS total, max(c) AS busiest
      FROM tens_closed GROUP BY minute;
CREATE VIEW tenth_events WITH (continuous) AS
    SELECT ts, s, v FROM events WHERE v % 10 = 0;
CREATE VIEW tenth_per_session WITH (continuous) AS
    SELECT s, count(*) AS c, sum(v) AS total, max(ts) AS last FROM tenth_events GROUP BY s;
});
lockstep_create($node);

# Session $s: $n transactions of $rows events; every fifth rolls back.
#
# The sessions go in lockstep: while a transaction of $s that took
# k .. k + $rows - 1 is open, the k handed out until it commits stay below
# k + (1 + 3 * ($sessions - 1)) * $rows = k + 5000, 50 seconds of event
# time: the watermark is less than 50 seconds past its events when they
# are decoded, and a window closes 60 seconds past its end.  (A session
# that waits for the others fails after 5 minutes; finish_loaders reports
# it.)
sub start_loader
{
	my ($s, $n) = @_;
	my ($out, $err) = ('', '');
	my $sql = qq{
DO \$\$
BEGIN
    FOR b IN 1 .. $n LOOP
        PERFORM public.lockstep_turn($s, b);
        INSERT INTO events
        SELECT k, $s, (k % 100)::int,
               timestamptz '2026-01-01 00:00:00+00' + k * interval '10 ms'
          FROM (SELECT nextval('ks') AS k FROM generate_series(1, $rows)) g;
        IF b % 5 = 0 THEN
            ROLLBACK;
        ELSE
            COMMIT;
        END IF;
        PERFORM public.lockstep_ended($s, b);
        COMMIT;
    END LOOP;
END
\$\$;
};
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', $sql ],
		'>', \$out, '2>', \$err);
	return { h => $h, err => \$err };
}

# A new set of sessions: none has ended a transaction yet.
sub start_loaders
{
	my ($n) = @_;
	lockstep_start($node, $sessions);
	return map { start_loader($_, $n) } 1 .. $sessions;
}

# Wait for the sessions; with $when, test that each wrote all it had to.
sub finish_loaders
{
	my ($when, @loaders) = @_;
	foreach my $l (@loaders)
	{
		my $ok = $l->{h}->finish;
		next unless defined $when;
		ok($ok, "$when: a loading session ended without error")
		  or diag ${ $l->{err} };
	}
	return;
}

my %chain = (
	# a transform, and a view that reads it
	tenth_events => q{SELECT ts, s, v FROM events WHERE v % 10 = 0},
	tenth_per_session => q{SELECT s, count(*), sum(v), max(ts) FROM tenth_events GROUP BY s},
	# closed by its own watermark: that of the windows it reads
	minutes_closed => q{SELECT * FROM (
	                      SELECT continuous.tumble(w, '1 minute') AS minute, count(*),
	                             sum(c), sum(total), max(c) FROM tens_closed GROUP BY 1) b
	                     WHERE minute + interval '1 minute'
	                           <= continuous._watermark('continuous_storage.tens_closed_closed')},
	five_minutes => q{SELECT continuous.tumble(minute, '5 minutes') AS five,
	                         sum(c), sum(total), sum(windows), max(busiest)
	                    FROM minutes_closed GROUP BY 1});
my %emits = (tens_closed => '(w, s)', minutes_closed => '(minute)');

sub check
{
	my ($when, $has_five, $db) = @_;
	$db //= 'postgres';
	$node->safe_psql($db, "SELECT continuous.sync('5 minutes')");

	is( $node->safe_psql($db,
			"SELECT late_events FROM continuous.views WHERE view = 'tens_closed'::regclass"),
		'0', "$when: no event was late");
	is_same_rows($node, 'tens_closed',
		q{SELECT * FROM (SELECT continuous.tumble(ts, '10 seconds') AS w, s, count(*) AS c,
		                        sum(v) AS total FROM events GROUP BY 1, 2) b
		   WHERE w + interval '70 seconds' <= continuous._watermark('events')},
		"$when: the first view's closed windows are the batch's", $db);
	foreach my $view (sort keys %chain)
	{
		next if $view eq 'five_minutes' && !$has_five;
		is_same_rows($node, $view, $chain{$view},
			"$when: $view equals its SELECT over the view it reads", $db);
	}
	foreach my $view (sort keys %emits)
	{
		next if $view eq 'minutes_closed' && !$has_five;
		my $emission = "continuous_storage.${view}_closed";
		is( $node->safe_psql($db,
				"SELECT count(*) = count(DISTINCT $emits{$view}) FROM $emission"),
			't', "$when: $view: each window in its emission table once");
		is_same_rows($node, $emission, $view,
			"$when: $view: its emission table holds its closed windows", $db);
	}
	cmp_ok($node->safe_psql($db, 'SELECT count(*) FROM minutes_closed'),
		'>', 0, "$when: (windows have closed)");
}

# --- phase A: kill -9 of the postmaster while four sessions load ----------
my @loaders = start_loaders(30);
ok( poll_until($node, 'postgres', 'SELECT count(*) > 2 FROM minutes_closed'),
	'phase A: windows closing through the chain');
kill9_postmaster_and_restart($node, sub { $_->{h}->kill_kill foreach @loaders });
@loaders = start_loaders(5);
finish_loaders('phase A', @loaders);
check('phase A, after kill -9 of the postmaster while loading', 0);

# --- phase B: the end of the chain created while sessions load, then
# kill -9 of the worker ------------------------------------------------------
@loaders = start_loaders(30);
ok( poll_until($node, 'postgres',
		q{SELECT count(*) > 10 FROM minutes_closed}),
	'phase B: loading');
$node->safe_psql('postgres', q{
CREATE VIEW five_minutes WITH (continuous) AS
    SELECT continuous.tumble(minute, '5 minutes') AS five, sum(c) AS c,
           sum(total) AS total, sum(windows) AS windows, max(busiest) AS busiest
      FROM minutes_closed GROUP BY five;
});
ok( poll_until($node, 'postgres',
		q{SELECT count(*) > 0 FROM continuous_storage.minutes_closed_closed
		   WHERE minute > (SELECT min(minute) + interval '3 minutes' FROM minutes_closed)}),
	'phase B: windows emitted after the CREATE VIEW');
kill9_worker_and_wait($node);
# the postmaster's reset after the kill -9 ends the sessions that still ran
finish_loaders(undef, @loaders);
check('phase B, after a CREATE VIEW while loading and kill -9 of the worker', 1);

# --- phase C: a restart, then more events --------------------------------
$node->restart;
@loaders = start_loaders(10);
finish_loaders('phase C', @loaders);
check('phase C, after a restart', 1);
is( $node->safe_psql('postgres', 'SELECT count(*) > 1 FROM five_minutes'),
	't', 'phase C: (five-minute windows have counts)');

# 3,000 more events of each session, in database $db
sub more_events
{
	my ($db) = @_;
	foreach my $s (1 .. $sessions)
	{
		$node->safe_psql($db, qq{
INSERT INTO events
SELECT k, $s, (k % 100)::int, timestamptz '2026-01-01 00:00:00+00' + k * interval '10 ms'
  FROM (SELECT nextval('ks') AS k FROM generate_series(1, 3000)) g});
	}
	return;
}

# --- phase D: dump and restore into another database, then more events --
my $dump = PostgreSQL::Test::Utils::tempdir . '/chains.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, 'postgres' ], 'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'restored', $dump ],
	'pg_restore restores the chain');
check('phase D, restored', 1, 'restored');
is( $node->safe_psql('restored',
		"SELECT string_agg(view || ' reads ' || stream, ', ' ORDER BY view::text) FROM continuous.views"),
	'five_minutes reads minutes_closed, minutes_closed reads tens_closed, tens_closed reads events, '
	  . 'tenth_events reads events, tenth_per_session reads tenth_events',
	'phase D: the restored chain reads what it read');
more_events('restored');
check('phase D, restored, after more events', 1, 'restored');

# --- phase E: the view over the transform comes back while the worker
# computes the transform again ----------------------------------------------
# The restore brings everything but tenth_per_session's read view, while
# the new worker's replication slot waits for a transaction that holds an
# xid; the worker then owes its views a rebuild.  It reads which views to
# compute, and waits for a lock on events held meanwhile.  tenth_per_session
# comes back then, computed by its restore from the transform's rows, and
# the transform's rows are written anew after it: it must not count them
# on top of those it was computed from.
my ($toc) = run_command([ 'pg_restore', '-l', $dump ]);
my @items = grep { /^\d+;/ } split /\n/, $toc;
my @reader = grep { / RULE public tenth_per_session / } @items;
is(scalar(@reader), 1, 'phase E: one item of the dump brings tenth_per_session back');
sub restore_raced
{
	my ($what, @lines) = @_;
	my $list = PostgreSQL::Test::Utils::tempdir . '/raced.list';
	open(my $fh, '>', $list) or die "could not write $list: $!";
	print $fh "$_\n" foreach @lines;
	close($fh);
	$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', 'raced', '-L', $list, $dump ],
		"phase E: pg_restore of $what");
}
my $xid_holder = $node->background_psql('postgres');
$xid_holder->query_safe('BEGIN; SELECT pg_current_xact_id()');
$node->safe_psql('postgres', 'CREATE DATABASE raced');
restore_raced('all but the read view of tenth_per_session',
	grep { $_ ne $reader[0] } @items);
is( $node->safe_psql('raced',
		"SELECT status FROM continuous.views WHERE view = 'tenth_per_session'::regclass"),
	'restoring', 'phase E: tenth_per_session waits for its read view');
my $locker = $node->background_psql('raced');
$locker->query_safe('BEGIN; LOCK TABLE events IN EXCLUSIVE MODE');
$xid_holder->query_safe('COMMIT');
$xid_holder->quit;
ok( poll_until($node, 'raced',
		q{SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		   WHERE a.backend_type = 'pg_continuous worker' AND a.datname = 'raced'
		     AND l.relation = 'events'::regclass AND NOT l.granted}, '1'),
	'phase E: the worker has read which views to compute, and waits for events');
restore_raced('the read view of tenth_per_session', @reader);
$locker->query_safe('COMMIT');
$locker->quit;
check('phase E, restored while the transform was computed again', 1, 'raced');
more_events('raced');
check('phase E, after more events', 1, 'raced');

$node->stop;
done_testing();
