# Copyright (c) pg_continuous contributors

# A crash in the middle of the rebuild of the views of table streams
# (rebuild.c, rebuild_table_stream_views()).  A promoted standby's worker
# finds no replication slot behind the stored position and computes every
# view of a table stream again from its table, in rounds: a view over a
# transform is computed in a later transaction than the transform, after
# the transform's new rows commit (worker_rebuild_next_transaction() in
# worker.c), and continuous.decoder_position.rebuild_owed stays true until
# the last round commits.  The views, over one table stream ev with fixed
# event times (so that no event is late), in three rounds:
#   1. ev_per_k, a plain aggregate; ev_per_minute, a windowed one;
#      ev_third, a transform; ev_seconds, an emit = 'window_close' view,
#      and ev_per_10s, a view over its emission table (which the rebuild
#      does not rewrite, so both are in round 1);
#   2. ev_third_per_k, a view over ev_third; ev_ninth, a transform over
#      ev_third;
#   3. ev_ninth_per_k, a view over ev_ninth.
#
# The crash is forced inside a round, after the rounds before it have
# committed, without sleeps.  ev_per_k (round 1), ev_third_per_k (round
# 2) and ev_ninth_per_k (round 3) call gate(key, k), an immutable function
# that takes the advisory lock key in shared mode, each its own key.  Before the promotion, a session of the standby
# holds one key alone (a hot standby grants advisory locks, but no lock on
# a table that the worker would wait for, and the storage is guarded
# against locks anyway).  Once pg_locks shows the worker waiting for that
# key, its round has begun and the rounds before it have committed: their
# views hold their rows computed again, the views of this round and later
# ones are as before the promotion, rebuild_owed is true, and the log does
# not yet say that the views were computed again.  Then the worker is
# killed with kill -9 (in round 1, 2 and 3), or the postmaster
# stopped in immediate mode and started again (in round 2), each on a
# standby of its own; the crash ends the locking session.  After
# continuous.sync() every view equals its SELECT run as batch SQL (EXCEPT
# ALL both ways; the views over the transforms also against the events),
# no event is counted twice or lost, rebuild_owed is false, and the log
# says once, after the crash, that all eight views were computed again;
# then the same after more events.
#
# With worker_rebuild_next_transaction() writing rebuild_owed = false
# instead of true, this test fails: after the crash nothing is computed
# again, and ev_third_per_k counts the transform's rows twice.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::Crash;
use PgContinuous::Failover;

# windows of a second close 2 + 1 + 3 seconds of event time after their start
my $primary = continuous_node('primary', "continuous.flush_interval = '10s'\n");
$primary->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '2 seconds');
-- true, once nobody holds the advisory lock lock_key alone (see above)
CREATE FUNCTION gate(lock_key int, k int) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(lock_key);
    RETURN k IS NOT NULL;
END $$;
CREATE VIEW ev_per_k WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev WHERE gate(4401, k) GROUP BY k;
CREATE VIEW ev_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS w, k, count(*) AS n, sum(v) AS s
      FROM ev GROUP BY w, k;
CREATE VIEW ev_third WITH (continuous, retention = '1 day') AS
    SELECT ts, k, v FROM ev WHERE v % 3 = 0;
CREATE VIEW ev_third_per_k WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev_third WHERE gate(4402, k) GROUP BY k;
CREATE VIEW ev_ninth WITH (continuous, retention = '1 day') AS
    SELECT ts, k, v FROM ev_third WHERE v % 9 = 0;
CREATE VIEW ev_ninth_per_k WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev_ninth WHERE gate(4403, k) GROUP BY k;
CREATE VIEW ev_seconds WITH (continuous, emit = 'window_close', allowed_lateness = '3 seconds') AS
    SELECT continuous.tumble(ts, '1 second') AS w, count(*) AS n, sum(v) AS s FROM ev GROUP BY w;
CREATE VIEW ev_per_10s WITH (continuous) AS
    SELECT continuous.tumble(w, '10 seconds') AS w10, count(*) AS windows, sum(n) AS n, sum(s) AS s
      FROM ev_seconds GROUP BY w10;
});

# events g in $from .. $to at 2026-01-01 + g * 10 ms, in increasing event
# time from one call to the next; with rolled-back ones (a whole
# transaction, and a savepoint) in between that no view may count
sub events_sql
{
	my ($from, $to) = @_;
	my $mid = int(($from + $to) / 2);
	my $ev  = sub {
		my ($a, $b, $k) = @_;
		return "INSERT INTO ev SELECT g % $k, g, "
		  . "timestamptz '2026-01-01 00:00:00+00' + g * interval '10 ms' "
		  . "FROM generate_series($a, $b) g;\n";
	};
	return "BEGIN;\n"
	  . $ev->($from, $mid, 13)
	  . "SAVEPOINT s;\n"
	  . $ev->($mid + 1, $to, 7)
	  . "ROLLBACK TO SAVEPOINT s;\n"
	  . $ev->($mid + 1, $to, 13)
	  . "COMMIT;\n"
	  . "BEGIN;\n"
	  . $ev->($from, $to, 5)
	  . "ROLLBACK;\n";
}

my $base_events = events_sql(1, 12000) . events_sql(12001, 20000);
$primary->safe_psql('postgres', $base_events . 'SELECT continuous.sync();');
# flushed by the sync; then more that the 10-second flush interval leaves
# unapplied (or not: the rebuild must not count them twice either way)
$primary->safe_psql('postgres', events_sql(20001, 26000));

my %views = (
	ev_per_k => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev WHERE gate(4401, k) GROUP BY k',
	ev_per_minute => "SELECT continuous.tumble(ts, '1 minute') AS w, k, count(*) AS n, "
	  . 'sum(v) AS s FROM ev GROUP BY 1, 2',
	ev_third => 'SELECT ts, k, v FROM ev WHERE v % 3 = 0',
	ev_third_per_k => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev_third WHERE gate(4402, k) GROUP BY k',
	ev_ninth => 'SELECT ts, k, v FROM ev_third WHERE v % 9 = 0',
	ev_ninth_per_k => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev_ninth WHERE gate(4403, k) GROUP BY k',
	# the windows closed: each closes size + allowed_lateness after its start
	ev_seconds => "SELECT * FROM (SELECT continuous.tumble(ts, '1 second') AS w, count(*) AS n, "
	  . 'sum(v) AS s FROM ev GROUP BY 1) b '
	  . "WHERE w + interval '4 seconds' <= continuous._watermark('ev')",
	# over the windows ev_seconds has closed
	ev_per_10s => "SELECT continuous.tumble(w, '10 seconds') AS w10, count(*) AS windows, "
	  . 'sum(n) AS n, sum(s) AS s FROM ev_seconds GROUP BY 1',
);

my $computed_again = qr/computed (\d+) continuous views again from their stream tables \(\d+ rows\) after the replication slot of this database could not decode/;

sub check_views
{
	my ($node, $when) = @_;
	views_equal_definitions($node, \%views, $when);
	# the reader of the transform against the events themselves, so that a
	# transform wrong in the same way as its reader cannot hide it
	is_same_rows($node, 'ev_third_per_k',
		'SELECT k, count(*) AS n, sum(v) AS s FROM ev WHERE v % 3 = 0 GROUP BY k',
		"$when: ev_third_per_k equals its SELECT over the events");
	is_same_rows($node, 'ev_ninth_per_k',
		'SELECT k, count(*) AS n, sum(v) AS s FROM ev WHERE v % 9 = 0 GROUP BY k',
		"$when: ev_ninth_per_k equals its SELECT over the events");
	is( $node->safe_psql('postgres', q{
SELECT (SELECT sum(n) FROM ev_per_k) = (SELECT count(*) FROM ev),
       (SELECT sum(n) FROM ev_per_minute) = (SELECT count(*) FROM ev),
       (SELECT count(*) FROM ev_third) = (SELECT count(*) FROM ev WHERE v % 3 = 0),
       (SELECT sum(n) FROM ev_third_per_k) = (SELECT count(*) FROM ev WHERE v % 3 = 0),
       (SELECT count(*) FROM ev_ninth) = (SELECT count(*) FROM ev WHERE v % 9 = 0),
       (SELECT sum(n) FROM ev_ninth_per_k) = (SELECT count(*) FROM ev WHERE v % 9 = 0),
       (SELECT sum(n) FROM ev_per_10s) = (SELECT sum(n) FROM ev_seconds)}),
		't|t|t|t|t|t|t', "$when: every event counted once, none lost");
	is_emitted_once($node, 'ev_seconds', 'w', $when);
	is( $node->safe_psql('postgres', q{
SELECT (SELECT count(*) > 10 FROM ev_seconds) AND (SELECT count(*) > 1 FROM ev_per_10s)
   AND (SELECT count(DISTINCT w) > 2 FROM ev_per_minute)}),
		't', "$when: (windows closed through the chain, several minutes)");
	is($node->safe_psql('postgres', 'SELECT rebuild_owed FROM continuous.decoder_position'),
		'f', "$when: no rebuild is owed");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM continuous.views WHERE status <> 'active'"),
		'0', "$when: every view is active");
	return;
}

# four standbys of the primary, each promoted in turn: the rebuild's
# rounds are 1 (the views of ev), 2 (ev_third_per_k and the transform
# ev_ninth, over ev_third) and 3 (ev_ninth_per_k); each case holds the lock
# that one round waits for, and names the views that the rounds before it
# have committed and those that are as they were before the promotion
# (in round 1 none has committed; the rebuild is owed since before the new
# slot)
my @cases = (
	{
		what => 'kill -9 of the worker in round 1',
		key => 4401,
		waiter => 'ev_per_k',
		computed => [],
		as_before => [ 'ev_per_k', 'ev_third', 'ev_third_per_k', 'ev_ninth', 'ev_ninth_per_k' ],
	},
	{
		what => 'kill -9 of the worker in round 2',
		key => 4402,
		waiter => 'ev_third_per_k',
		computed => ['ev_third'],
		as_before => [ 'ev_third_per_k', 'ev_ninth', 'ev_ninth_per_k' ],
	},
	{
		what => 'immediate stop of the postmaster in round 2',
		key => 4402,
		waiter => 'ev_third_per_k',
		computed => ['ev_third'],
		as_before => [ 'ev_third_per_k', 'ev_ninth', 'ev_ninth_per_k' ],
		postmaster => 1,
	},
	{
		what => 'kill -9 of the worker in round 3',
		key => 4403,
		waiter => 'ev_ninth_per_k',
		computed => [ 'ev_third', 'ev_third_per_k', 'ev_ninth' ],
		as_before => ['ev_ninth_per_k'],
	});
my @standbys = (streaming_standby($primary, 'standby1'));
foreach my $i (2 .. scalar(@cases))
{
	my $standby = PostgreSQL::Test::Cluster->new("standby$i");
	$standby->init_from_backup($primary, 'base', has_streaming => 1);
	$standby->start;
	push @standbys, $standby;
}
stop_primary_after_catchup($primary, $standbys[0]);
# the others have what the first has
my $replayed = $standbys[0]->safe_psql('postgres', 'SELECT pg_last_wal_replay_lsn()');
foreach my $standby (@standbys)
{
	$standby->poll_query_until('postgres', "SELECT pg_last_wal_replay_lsn() >= '$replayed'")
	  or die 'a standby did not catch up';
}

my $next_event = 26001;

foreach my $case (@cases)
{
	my $what = $case->{what};
	my $node = shift @standbys;
	my %before = map {
		$_ => $node->safe_psql('postgres', "SELECT * FROM $_ ORDER BY 1, 2, 3")
	} @{ $case->{as_before} };

	# the round waits for this lock; the standby's session lives on
	# through the promotion
	my $locker = $node->background_psql('postgres', on_error_stop => 0);
	$locker->query_safe("SELECT pg_advisory_lock($case->{key})");
	promote_standby($node);

	ok( poll_until($node, 'postgres', qq{
SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
 WHERE a.backend_type = 'pg_continuous worker' AND NOT l.granted
   AND l.locktype = 'advisory' AND l.objid = $case->{key}}),
		"$what: the worker waits in gate() of $case->{waiter}");
	# the rounds before have committed, this one has not
	is($node->safe_psql('postgres', 'SELECT rebuild_owed FROM continuous.decoder_position'),
		't', "$what: the rebuild is owed");
	foreach my $name (@{ $case->{computed} })
	{
		is_same_rows($node, $name, $views{$name},
			"$what: $name, of an earlier round, is computed again");
	}
	foreach my $name (@{ $case->{as_before} })
	{
		is($node->safe_psql('postgres', "SELECT * FROM $name ORDER BY 1, 2, 3"),
			$before{$name}, "$what: $name is as before the promotion");
	}
	unlike(slurp_file($node->logfile), $computed_again,
		"$what: the log does not say yet that the views were computed again");

	my $crash_at = -s $node->logfile;
	if ($case->{postmaster})
	{
		$node->stop('immediate');
		$node->start;
	}
	else
	{
		# the postmaster restarts every process, the locking session's too
		kill9_worker_and_wait($node);
	}
	eval { $locker->quit; };

	check_views($node, "after the $what");
	my @lines = (slurp_file($node->logfile, $crash_at) =~ /$computed_again/g);
	is_deeply(\@lines, ['8'],
		"$what: the log says once, after the crash, that the eight views were computed again");

	# and the views go on exactly: more events, then one 10 seconds of
	# event time ahead that closes the windows of the others
	my $to = $next_event + 6000;
	$node->safe_psql('postgres', events_sql($next_event, $to)
		  . "INSERT INTO ev VALUES (0, 0, timestamptz '2026-01-01 00:00:00+00' + "
		  . ($to + 1000) . " * interval '10 ms');");
	check_views($node, "more events after the $what");
	is_deeply([ slurp_file($node->logfile) =~ /$computed_again/g ], ['8'],
		"$what: the views were computed again only once in all");
	$node->stop;
}

done_testing();
