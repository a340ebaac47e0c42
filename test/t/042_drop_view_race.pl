# Copyright (c) pg_continuous contributors

# DROP VIEW of one continuous view while the worker sets up, writes or
# holds back its sibling views: the siblings lose no committed event.
#
# Each case runs in a database of its own, so that the worker starts anew
# (a new replication slot) and meets the views' creation and the DROP in
# the order the case forces.  The order is forced with locks, never with
# sleeps: the test holds a row the worker's flush must write (the
# database's continuous.decoder_position row, or the stream's
# continuous.stream_stats row, SELECT ... FOR UPDATE), waits until
# pg_blocking_pids() shows the worker waiting for it, does the DDL and the
# writes, and lets go.  Every database has two views over the stream ev
# (per_key, which is dropped, and per_hour) and one over another stream
# (per_other over ev2); in every case the surviving views equal their
# SELECT over the tables (EXCEPT ALL both ways) after continuous.sync(),
# and nothing of the dropped view is left in the catalog.
#
#   A  the worker's first catalog load after create_stream() sees the views
#      (their creation not decoded yet) while DROP VIEW per_key is open:
#      the load leaves per_key out instead of waiting for its relations
#      (and marking it failed once the DROP commits), the flush of the
#      views' creation waits for the DROP, the writers commit meanwhile;
#   B  the worker's flush of the views' creation waits (stream_stats row)
#      while DROP VIEW per_key begins, writers commit; the flush then waits
#      for the DROP, which commits;
#   C  as B, but the DROP commits before the flush of the creation goes on;
#   D  the views loaded: the flush of the writers' rows waits while a DROP
#      is open, and the DROP commits before it goes on (per_key held back,
#      then the held view is the dropped one: decoding again);
#   E  as D, but the flush has taken per_key's locks when the DROP comes:
#      the DROP waits for the flush;
#   F  no forcing: CREATE EXTENSION, the streams, the views and their DROP
#      within the same few milliseconds as the worker's first start, with
#      writers around them, a few times over.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $node = continuous_node('drop_view_race',
	"continuous.flush_interval = '50ms'\nlog_lock_waits = on\ndeadlock_timeout = '200ms'\n");

my %batch = (
	per_hour => q{SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS s
	                FROM ev GROUP BY hour},
	per_key   => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k',
	per_other => 'SELECT k, count(*) AS n, sum(v) AS s FROM ev2 GROUP BY k');

my $views_sql = q{
BEGIN;
CREATE VIEW per_key WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k;
CREATE VIEW per_hour WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 hour') AS hour, count(*) AS n, sum(v) AS s
      FROM ev GROUP BY hour;
CREATE VIEW per_other WITH (continuous) AS
    SELECT k, count(*) AS n, sum(v) AS s FROM ev2 GROUP BY k;
COMMIT;
};

# the writers: one transaction kept open across the DROP, one autocommit
my $w_rows = q{INSERT INTO ev VALUES (1, 100, '2026-03-02 00:10+00'), (4, 400, '2026-03-02 01:10+00');
INSERT INTO ev2 VALUES (1, 100), (4, 400);};
my $o_rows = q{INSERT INTO ev VALUES (2, 20, '2026-03-02 00:30+00'), (5, 50, '2026-03-02 02:00+00');
INSERT INTO ev2 VALUES (2, 20), (5, 50);};

my $ndb = 0;

# A database with the extension, its worker running (slot made), and the
# tables with their first rows; no stream yet.
sub new_database
{
	my $db = 'race' . ++$ndb;
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{
CREATE EXTENSION pg_continuous;
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
INSERT INTO ev SELECT g % 3, g, '2026-03-01 12:00+00'::timestamptz + g * interval '7 minutes'
  FROM generate_series(1, 30) g;
CREATE TABLE ev2 (k int, v int);
INSERT INTO ev2 SELECT g % 4, g FROM generate_series(1, 20) g;
});
	ok( poll_until(
			$node, $db,
			q{SELECT count(*) = 1 FROM pg_replication_slots
			   WHERE database = current_database() AND active}),
		"$db: the worker has made its replication slot");
	return $db;
}

sub create_streams
{
	my ($db) = @_;
	$node->safe_psql($db, q{
SELECT continuous.create_stream('ev', event_time => 'ts', watermark_delay => '1 day');
SELECT continuous.create_stream('ev2');
});
	return;
}

# Wait until the database's worker waits for the session (a lock or a row
# it holds).
sub worker_waits_for
{
	my ($db, $session, $what) = @_;
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	ok( poll_until(
			$node, $db, qq{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE application_name = 'pg_continuous worker' AND datname = current_database()
   AND $pid = ANY (pg_catalog.pg_blocking_pids(pid))}),
		"$db: the worker waits for $what");
	return;
}

# Hold the stream's stream_stats row: a flush with events of the stream
# waits when it writes the stream's counters.
sub hold_stream_stats
{
	my ($db) = @_;
	my $s = $node->background_psql($db);
	$s->query_safe(q{BEGIN; SELECT FROM continuous.stream_stats
	                  WHERE stream = 'ev'::regclass FOR UPDATE});
	return $s;
}

# A database whose worker has flushed its streams' creation, and now waits
# in the flush of the views' creation for ev's stream_stats row, which the
# session returned holds: an event of ev committed just before the views
# puts that write into the flush.
sub creation_flush_waits
{
	my $db = new_database();
	create_streams($db);
	$node->safe_psql($db, "INSERT INTO ev VALUES (0, 1, '2026-03-01 11:00+00')");
	$node->safe_psql($db, 'SELECT continuous.sync()');
	my $hold = hold_stream_stats($db);
	$node->safe_psql($db, "INSERT INTO ev VALUES (0, 2, '2026-03-01 11:01+00')");
	$node->safe_psql($db, $views_sql);
	worker_waits_for($db, $hold, "ev's stream_stats row (flush of the views' creation)");
	return ($db, $hold);
}

# DROP VIEW per_key in a transaction left open, started without waiting
# for it (it may wait for the worker).
sub begin_drop
{
	my ($db, %opt) = @_;
	my $d = $node->background_psql($db);
	$d->query_safe('BEGIN');
	if ($opt{may_wait})
	{
		$d->query_until(qr/dropping/, "\\echo dropping\nDROP VIEW per_key;\n");
	}
	else
	{
		$d->query_safe('DROP VIEW per_key');
	}
	return $d;
}

# The writers: w_begin (open), o_insert (autocommit), w_commit.
sub write_rows
{
	my ($db) = @_;
	my $w = $node->background_psql($db);
	$w->query_safe("BEGIN; $w_rows");
	$node->safe_psql($db, $o_rows);
	$w->query_safe('COMMIT');
	$w->quit;
	return;
}

sub check_database
{
	my ($db, $case, @views) = @_;
	$node->safe_psql($db, 'SELECT continuous.sync()');
	is_same_rows($node, $_, $batch{$_}, "$case: $_ equals its SELECT over the table", $db)
	  foreach @views;
	is( $node->safe_psql(
			$db, q{
SELECT string_agg(view::text, ',' ORDER BY view::text) FROM continuous.views}),
		join(',', sort @views),
		"$case: continuous.views lists the surviving views");
	is( $node->safe_psql(
			$db, q{
SELECT count(*) FROM continuous.view_stats s
 WHERE NOT EXISTS (SELECT FROM continuous.view_catalog v WHERE v.view = s.view)}),
		'0',
		"$case: no statistics row is left of the dropped view")
	  or diag $node->safe_psql($db, q{SELECT * FROM continuous.view_stats s
 WHERE NOT EXISTS (SELECT FROM continuous.view_catalog v WHERE v.view = s.view)});
	is( $node->safe_psql(
			$db, q{SELECT cardinality(behind_views) FROM continuous.decoder_position}),
		'0', "$case: no view is left behind");

	# the worker exits and drops its replication slot
	$node->safe_psql($db, 'DROP EXTENSION pg_continuous CASCADE; DROP TABLE ev, ev2');
	return;
}

# the views that remain once the DROP ends so
sub survivors
{
	my ($end) = @_;
	return $end eq 'COMMIT' ? qw(per_hour per_other) : qw(per_hour per_key per_other);
}

# --- A: the first load sees the views while their DROP is open -------------------
for my $end (qw(COMMIT ROLLBACK))
{
	my $db = new_database();
	my $hold = $node->background_psql($db);
	$hold->query_safe('BEGIN; SELECT FROM continuous.decoder_position FOR UPDATE');
	create_streams($db);
	worker_waits_for($db, $hold, 'the decoder_position row (flush of create_stream)');
	$node->safe_psql($db, $views_sql);
	my $d = begin_drop($db);
	my $w = $node->background_psql($db);
	$w->query_safe("BEGIN; $w_rows");
	$hold->query_safe('COMMIT');
	# its catalog load leaves per_key out (its relations are locked); the
	# flush of the views' creation then waits for the DROP
	worker_waits_for($db, $d, "the DROP (per_key's catalog row, writing where the views begin)");
	$node->safe_psql($db, $o_rows);
	$w->query_safe('COMMIT');
	$d->query_safe($end);
	check_database($db, "A ($end)", survivors($end));
	$_->quit foreach ($hold, $d, $w);
}

# --- B: the flush of the views' creation waits; the DROP comes, then ends ----------
for my $end (qw(COMMIT ROLLBACK))
{
	my ($db, $hold) = creation_flush_waits();
	my $d = begin_drop($db);
	write_rows($db);
	$hold->query_safe('COMMIT');
	worker_waits_for($db, $d, 'the DROP (writing where the views begin)');
	$d->query_safe($end);
	check_database($db, "B ($end)", survivors($end));
	$_->quit foreach ($hold, $d);
}

# --- C: as B, but the DROP commits before the flush goes on -------------------------
{
	my ($db, $hold) = creation_flush_waits();
	my $d = begin_drop($db);
	write_rows($db);
	$d->query_safe('COMMIT');
	$hold->query_safe('COMMIT');
	check_database($db, 'C', qw(per_hour per_other));
	$_->quit foreach ($hold, $d);
}

# --- D: the flush of the writers' rows waits; a DROP opens and ends meanwhile -------
for my $end (qw(COMMIT ROLLBACK))
{
	my $db = new_database();
	create_streams($db);
	$node->safe_psql($db, $views_sql);
	$node->safe_psql($db, 'SELECT continuous.sync()');
	my $d = begin_drop($db);
	my $hold = hold_stream_stats($db);
	write_rows($db);
	worker_waits_for($db, $hold, "ev's stream_stats row (flush of the writers' rows)");
	$d->query_safe($end);
	$hold->query_safe('COMMIT');
	check_database($db, "D ($end)", survivors($end));
	$_->quit foreach ($hold, $d);
}

# --- E: the flush holds per_key's locks when the DROP comes ------------------------
{
	my $db = new_database();
	create_streams($db);
	$node->safe_psql($db, $views_sql);
	$node->safe_psql($db, 'SELECT continuous.sync()');
	my $hold = hold_stream_stats($db);
	$node->safe_psql($db, $o_rows);
	worker_waits_for($db, $hold, "ev's stream_stats row (flush of a writer's rows)");
	my $d = begin_drop($db, may_wait => 1);
	ok( poll_until(
			$node, $db, q{
SELECT count(*) > 0 FROM pg_stat_activity
 WHERE query LIKE 'DROP VIEW per_key%' AND wait_event_type = 'Lock'}),
		'E: the DROP waits for the flush');
	my $w = $node->background_psql($db);
	$w->query_safe("BEGIN; $w_rows");
	$hold->query_safe('COMMIT');
	$d->query_safe('SELECT 1');		# the DROP is done
	$w->query_safe('COMMIT');
	$d->query_safe('COMMIT');
	check_database($db, 'E', qw(per_hour per_other));
	$_->quit foreach ($hold, $d, $w);
}

# --- F: everything within the worker's first few milliseconds -------------------------
# (in one database, set up and torn down again as the isolation tester does)
$node->safe_psql('postgres', 'CREATE DATABASE first');
for my $round (1 .. 4)
{
	my $db = 'first';
	$node->safe_psql($db, q{
CREATE TABLE ev (k int, v int, ts timestamptz NOT NULL);
INSERT INTO ev SELECT g % 3, g, '2026-03-01 12:00+00'::timestamptz + g * interval '7 minutes'
  FROM generate_series(1, 30) g;
CREATE TABLE ev2 (k int, v int);
INSERT INTO ev2 SELECT g % 4, g FROM generate_series(1, 20) g;
});
	$node->safe_psql($db, 'CREATE EXTENSION pg_continuous');
	create_streams($db);
	$node->safe_psql($db, $views_sql);
	my $d = begin_drop($db);
	write_rows($db);
	$d->query_safe('COMMIT');
	check_database($db, "F$round", qw(per_hour per_other));
	$d->quit;
}

# on main before this fix, case A made the worker wait in its catalog load
# for the DROP, and then mark per_key failed: "could not open relation"
ok(!$node->log_contains(qr/continuous view "[a-z_]+" failed/),
	'no view was marked failed by a race with its DROP');

done_testing();
