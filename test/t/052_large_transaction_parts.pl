# Copyright (c) pg_continuous contributors

# A transaction whose rows do not fit in the worker's memory is applied in
# parts: its rows past continuous.large_transaction_memory (here 1 MB) wait
# on disk, and after its commit the worker reads them back a run at a time
# and flushes each run (worker.c, worker_flush_part()), with how far into
# the transaction the views are (continuous.decoder_position.part_lsn).
# With continuous.state_memory at 2 MB, a transaction of 100,000 rows takes
# several parts.  Views of every kind over the stream (tumbling, hopping,
# session and count windows, emit = 'window_close', transforms, a lookup
# join), and a stream with deduplication whose copies fall on both sides of
# part boundaries.  Each time every view equals its batch query.
#
#   1. A transaction streamed before its commit, with a savepoint rolled
#      back after its rows went to disk, and UPDATEs of the stream among its
#      rows (ignored changes, counted once).
#   2. kill -9 of the worker between two parts of a COPY (many rows to a WAL
#      record): the worker is held at the
#      end of its second flush by a lock on the decoder position's row, and
#      killed there; after the restart it decodes the transaction again and
#      passes over the rows of the parts flushed.  Nothing counts twice.
#   3. A transaction not streamed (logical_decoding_work_mem large), whose
#      rows the commit hands over at once, killed between two parts the
#      same way.
#   4. Locks on a view's relations during the parts.  The worker holds its
#      views' locks from before the first part until the last, so that a
#      LOCK asked for meanwhile waits for it.  A view locked from before the
#      transaction is held back before it, and decoded again for once the
#      lock is gone, in parts too; killed between two of those, or between
#      two parts of the others, nothing counts twice or is lost.  A lock
#      taken while the worker restarts between parts, on a view that
#      stands inside the transaction, is waited for up to continuous.
#      view_time_limit, and then that view fails; the others go on, and
#      continuous.rebuild() brings it back.
#   5. A view that folds, whose groups (one per row) fill memory: applied
#      in parts too.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::EveryKind;
use PgContinuous::Crash qw(worker_pid kill9_worker_and_wait);

my $node = continuous_node('large_transaction_parts',
	"logical_decoding_work_mem = '64kB'\ncontinuous.large_transaction_memory = '1MB'\n"
	  . "continuous.state_memory = '2MB'\nlog_temp_files = 0\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pg_continuous');
create_every_kind($node, transforms => 1);

# per_zone is held back in phase 4; its windows stay open, so that it then
# counts the rows the others applied meanwhile, rather than judge them late
# by the watermark they moved
my %joined = (
	per_zone => q{SELECT r.zone, continuous.tumble(e.ts, '10 minutes') AS w,
	    count(*) AS c, sum(e.v) AS s
	    FROM events e JOIN regions r ON r.name = e.region GROUP BY 1, 2});
my %deduplicated = (
	clicks_per_user => [
		q{SELECT user_id, count(*) AS c, max(ts) AS last FROM clicks GROUP BY user_id},
		q{SELECT user_id, count(*) AS c, max(ts) AS last
		    FROM (SELECT DISTINCT ON (event_id) * FROM clicks) d GROUP BY user_id}
	]);
$node->safe_psql('postgres', q{
CREATE TABLE regions (name text PRIMARY KEY, zone text NOT NULL);
INSERT INTO regions SELECT 'region ' || i, 'zone ' || (i % 2) FROM generate_series(0, 3) i;
CREATE TABLE clicks (event_id bigint, user_id int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('clicks', event_time => 'ts',
                                unique_key => 'event_id', dedup_within => '1 day');
} . "CREATE VIEW per_zone WITH (continuous, allowed_lateness = '1000 days') AS $joined{per_zone};"
	  . "CREATE VIEW clicks_per_user WITH (continuous) AS $deduplicated{clicks_per_user}[0];");

# events k = $from .. $to, as EveryKind's load makes them (in event-time
# order: none is late)
sub events_sql
{
	my ($from, $to) = @_;
	return "INSERT INTO events (k, v, user_id, region, ts) "
	  . "SELECT k, (k % 13)::int, ((k / 1000) % 5)::int, 'region ' || (k % 4), "
	  . "timestamptz '2026-01-01 00:00:00+00' + k * interval '100 ms' "
	  . "FROM generate_series($from, $to) k;";
}

# the same events by COPY, whose rows the WAL holds many to a record: a
# part ends at the end of a record, never inside one
sub events_copy_sql
{
	my ($from, $to) = @_;
	my $rows = join('', map {
			my ($whole, $tenths) = (int($_ / 10), $_ % 10);
			my @t = gmtime(1767225600 + $whole);
			sprintf("%d\t%d\t%d\tregion %d\t%04d-%02d-%02d %02d:%02d:%02d.%d+00\n",
				$_, $_ % 13, int($_ / 1000) % 5, $_ % 4,
				$t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1], $t[0], $tenths)
		} $from .. $to);
	return "COPY events (k, v, user_id, region, ts) FROM stdin;\n$rows\\.\n";
}

# clicks $from .. $to, each sent twice in a row
sub clicks_sql
{
	my ($from, $to) = @_;
	return "INSERT INTO clicks SELECT i / 2, (i / 2) % 50, "
	  . "timestamptz '2026-01-01 00:00:00+00' + (i / 2) * interval '100 ms' "
	  . "FROM generate_series(2 * $from, 2 * $to + 1) i;";
}


sub check_all
{
	my ($when) = @_;
	check_every_kind($node, $when);
	views_equal_definitions($node, \%joined, $when);
	is_same_rows($node, 'clicks_per_user', $deduplicated{clicks_per_user}[1],
		"$when: clicks_per_user equals its SELECT over the clicks without their copies");
	is($node->safe_psql('postgres',
			"SELECT duplicates FROM continuous.streams WHERE stream = 'clicks'::regclass"),
		$node->safe_psql('postgres',
			'SELECT count(*) - count(DISTINCT event_id) FROM clicks'),
		"$when: every copy counted once as a duplicate");
	return;
}

sub ignored_changes
{
	return $node->safe_psql('postgres',
		"SELECT ignored_changes FROM continuous.streams WHERE stream = 'events'::regclass");
}

# --- 1. streamed, a savepoint rolled back, UPDATEs among the rows ------------
my $pid = worker_pid($node);
my $offset = -s $node->logfile;
$node->safe_psql('postgres', 'BEGIN;' . events_sql(0, 49999) . clicks_sql(0, 12499)
	  . 'SAVEPOINT s;' . events_sql(50000, 64999)
	  . 'ROLLBACK TO SAVEPOINT s;'
	  . 'UPDATE events SET v = v WHERE k % 5000 = 7;'
	  . events_sql(50000, 99999) . clicks_sql(12500, 24999)
	  . 'UPDATE events SET v = v WHERE k % 5000 = 7 AND k > 50000;'
	  . 'COMMIT;');
check_all('a streamed transaction applied in parts');
my $log = slurp_file($node->logfile, $offset);
ok(temp_files_logged($node, $offset, $pid) > 0,
	'the rows past 1 MB went to a temporary file of the worker');
like($log, qr/applying the large transaction \d+, which committed at \S+, in parts/,
	'the transaction was applied in parts, and the log says so');
unlike($log, qr/back into memory whole/, 'nothing was read back whole');
is(ignored_changes(), '20', 'the UPDATEs among its rows are counted once each');
is($node->safe_psql('postgres', 'SELECT part_lsn FROM continuous.decoder_position'),
	'', 'once the transaction is applied, no part is owed');

# --- 2. kill -9 between two parts -------------------------------------------
# The worker's flush ends by writing the decoder position: holder locks its
# row, so that the first part's flush waits; second then queues for the
# row behind the worker, and gets it once the first part has committed, so
# that the next flush waits in turn.  The worker is killed there.
my $worker_waits = q{SELECT count(*) FROM pg_stat_activity
    WHERE backend_type = 'pg_continuous worker' AND datname = current_database()
      AND wait_event_type = 'Lock' AND backend_xid IS NOT NULL};

# A session that runs $sql and waits for a lock there, as $what says; and
# its pid
sub queued_session
{
	my ($sql, $what) = @_;
	my $session = $node->background_psql('postgres');
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->query_until(qr/asked/, "\\echo asked\n$sql");
	ok( poll_until($node, 'postgres',
			"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid", 'Lock'),
		$what);
	return ($session, $pid);
}

# Holds the worker between two parts of the transaction that $start brings
# about (a large transaction's commit, or a view's lock gone, for which the
# worker decodes again); returns the session that holds it.
sub hold_between_parts
{
	my ($start, $when) = @_;
	my $holder = $node->background_psql('postgres');
	$holder->query_safe('BEGIN; SELECT lsn FROM continuous.decoder_position FOR UPDATE');
	$start->();
	ok(poll_until($node, 'postgres', $worker_waits, '1'),
		"$when: the first part's flush waits for the lock on the decoder position");
	my ($second, $second_pid) = queued_session(
		"BEGIN;\nSELECT 1 FROM continuous.decoder_position FOR UPDATE;\n",
		"$when: a second session queues for the row behind the worker");
	$holder->query_safe('COMMIT');
	$holder->quit;
	ok( poll_until($node, 'postgres',
			"SELECT state = 'idle in transaction' FROM pg_stat_activity WHERE pid = $second_pid"
			  . " AND ($worker_waits) = 1"),
		"$when: the first part committed, and the next flush waits for the second session");
	isnt($node->safe_psql('postgres', 'SELECT part_lsn FROM continuous.decoder_position'),
		'', "$when: the decoder position says how far into the transaction the views are");
	return $second;
}

sub kill_between_parts
{
	my ($sql, $when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
	my $second = hold_between_parts(sub { $node->safe_psql('postgres', $sql) }, $when);
	my $killed_at = -s $node->logfile;
	kill9_worker_and_wait($node);
	eval { $second->quit; };
	return $killed_at;
}

$offset = kill_between_parts("BEGIN;\n" . events_copy_sql(100000, 199999)
	  . 'UPDATE events SET v = v WHERE k % 5000 = 7 AND k > 100000;'
	  . clicks_sql(25000, 49999) . 'COMMIT;', 'streamed');
check_all('kill -9 between two parts');
is(ignored_changes(), '40', 'the UPDATEs are counted once across the crash');
like(slurp_file($node->logfile, $offset), qr/applying the large transaction .* in parts/,
	'the rest of the transaction was applied in parts after the restart too');

# --- 3. not streamed: the commit hands every row over at once ---------------
# The UPDATEs among its rows past the first part are counted with the part
# they are in, not with the first: killed between two parts, each counts once.
$node->safe_psql('postgres', "ALTER SYSTEM SET logical_decoding_work_mem = '1GB'");
$node->reload;
$offset = -s $node->logfile;
kill_between_parts('BEGIN;' . events_sql(200000, 299999)
	  . 'UPDATE events SET v = v WHERE k % 5000 = 7 AND k > 200000;'
	  . clicks_sql(50000, 74999) . 'COMMIT;', 'decoded at its commit');
# a killed worker's file is removed unlogged: the one of the next worker,
# which decodes the rest of the transaction again, is logged
$pid = worker_pid($node);
check_all('a transaction decoded at its commit, killed between two parts');
ok(temp_files_logged($node, $offset, $pid) > 0
	  && slurp_file($node->logfile, $offset) =~ /in parts/,
	'decoded at its commit, its rest went to disk again and was applied in parts');
is(ignored_changes(), '60', 'its UPDATEs are counted once each across the crash');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET logical_decoding_work_mem');
$node->reload;

# --- 4. locks on a view's relations during the parts ------------------------
# 4a. A lock asked for once the parts have begun waits for the worker, which
# holds its views' locks from before the first part until the last: not the
# worker, and every view with it, for the lock.  The first part's flush is
# held by a lock on the decoder position's row meanwhile.  A DROP VIEW
# asked for meanwhile waits the same way, and then drops its view.
$node->safe_psql('postgres', "CREATE TABLE lock_granted (parts_owed bool)");
$node->safe_psql('postgres',
	"CREATE VIEW dropped_meanwhile WITH (continuous) AS SELECT region, count(*) AS c FROM events GROUP BY region");
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
my $holder = $node->background_psql('postgres');
$holder->query_safe('BEGIN; SELECT lsn FROM continuous.decoder_position FOR UPDATE');
$node->safe_psql('postgres', events_sql(300000, 349999));
ok(poll_until($node, 'postgres', $worker_waits, '1'),
	'locks asked for during the parts: the first part waits for the decoder position');
my ($locker, $locker_pid) = queued_session(
	"BEGIN;\nLOCK TABLE late_events IN ACCESS EXCLUSIVE MODE;\n"
	  . "INSERT INTO lock_granted SELECT part_lsn IS NOT NULL FROM continuous.decoder_position;\n"
	  . "COMMIT;\n",
	'a LOCK of a view\'s late_events table asked for during the parts waits');
my ($dropper) = queued_session("DROP VIEW dropped_meanwhile;\n",
	'a DROP VIEW asked for during the parts waits');
$holder->query_safe('COMMIT');
$holder->quit;
ok(poll_until($node, 'postgres', 'SELECT count(*) FROM lock_granted', '1'),
	'the LOCK is granted once the transaction is applied');
is($node->safe_psql('postgres', 'SELECT parts_owed FROM lock_granted'), 'f',
	'the LOCK waited for the last part: the worker did not wait for it between parts');
$locker->quit;
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_class WHERE relname = 'dropped_meanwhile'", '0'),
	'the DROP VIEW went through once the transaction was applied');
$dropper->quit;
check_all('a lock asked for during the parts');

# 4b. The lookup table of per_zone, locked before the transaction commits
# and kept: per_zone is held back before the transaction, and the other
# views apply it in parts.  Once the lock is gone, the worker decodes the
# transaction again for per_zone, in parts too, and is killed between two
# of them: per_zone stands inside the transaction while the others are
# past it.
$offset = -s $node->logfile;
my $regions = $node->background_psql('postgres');
$regions->query_safe('BEGIN; LOCK TABLE regions IN ACCESS EXCLUSIVE MODE');
$node->safe_psql('postgres', events_copy_sql(350000, 399999));
ok( poll_until($node, 'postgres',
		"SELECT status FROM continuous.views WHERE view = 'per_zone'::regclass", 'waiting'),
	'a lock kept from before the transaction: per_zone is held back');
check_every_kind_views($node, 'per_zone held back before a transaction applied in parts');
my $second = hold_between_parts(sub { $regions->query_safe('COMMIT'); $regions->quit; },
	'decoded again for per_zone');
kill9_worker_and_wait($node);
eval { $second->quit; };
check_all('killed between two parts decoded again for a view held back');
$log = slurp_file($node->logfile, $offset);
like($log, qr/held back by a lock/, 'per_zone was held back before the transaction');
unlike($log, qr/back into memory whole/, 'nothing was read back whole');

# 4c. The same lock, and the worker killed between two parts of the
# transaction the others apply: started again, it resumes inside the
# transaction, and keeps per_zone, which stands before it (and whose lock
# went with the crash), back until the transaction is through.
$offset = -s $node->logfile;
$regions = $node->background_psql('postgres');
$regions->query_safe('BEGIN; LOCK TABLE regions IN ACCESS EXCLUSIVE MODE');
kill_between_parts("BEGIN;\n" . events_copy_sql(400000, 449999) . 'COMMIT;',
	'per_zone held back before the transaction');
eval { $regions->quit; };
check_all('killed between two parts, with a view held back before the transaction');
unlike(slurp_file($node->logfile, $offset), qr/back into memory whole/,
	'nothing was read back whole');

# 4d. The worker stopped between two parts, and a lock taken before it
# starts again on the lookup table of per_zone, which stands inside the
# transaction: it cannot be held back there, so the worker waits for the
# lock up to continuous.view_time_limit and then fails per_zone; every
# other view goes on, and continuous.rebuild() brings it back.
$node->safe_psql('postgres', "ALTER SYSTEM SET continuous.view_time_limit = '3s'");
$node->reload;
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
$second = hold_between_parts(
	sub { $node->safe_psql('postgres', events_copy_sql(450000, 499999)) },
	'stopped between parts');
($locker, $locker_pid) = queued_session(
	"BEGIN;\nLOCK TABLE regions IN ACCESS EXCLUSIVE MODE;\n",
	'stopped between parts: the LOCK waits for the worker');
$node->safe_psql('postgres', 'SELECT pg_terminate_backend(' . worker_pid($node) . ')');
ok( poll_until($node, 'postgres',
		"SELECT state FROM pg_stat_activity WHERE pid = $locker_pid", 'idle in transaction'),
	'stopped between parts: the LOCK is granted once the worker is gone');
$second->query_safe('COMMIT');
$second->quit;
ok( poll_until($node, 'postgres',
		"SELECT status FROM continuous.views WHERE view = 'per_zone'::regclass", 'failed'),
	'per_zone failed once the lock was kept past the time limit');
like( $node->safe_psql('postgres',
		"SELECT last_error FROM continuous.views WHERE view = 'per_zone'::regclass"),
	qr/another transaction held a lock on (public\.)?regions for longer than continuous.view_time_limit/,
	'its last_error says why');
check_every_kind_views($node, 'per_zone failed inside a transaction applied in parts');
$locker->query_safe('COMMIT');
$locker->quit;
$node->safe_psql('postgres', "SELECT continuous.rebuild('per_zone')");
check_all('per_zone rebuilt');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET continuous.view_time_limit');
$node->reload;

# --- 5. a group per row, where every view can fold --------------------------
# Folding keeps only the groups, but a transaction that makes a new group
# of each row fills memory with them: once they take half of the batch's,
# the transaction is applied in parts too.
my %per_id = (per_id => q{SELECT id, count(*) AS n, sum(v) AS total FROM readings GROUP BY id});
$node->safe_psql('postgres', q{
CREATE TABLE readings (id bigint, v int);
SELECT continuous.create_stream('readings');
} . "CREATE VIEW per_id WITH (continuous) AS $per_id{per_id};");
$offset = -s $node->logfile;
$node->safe_psql('postgres',
	'INSERT INTO readings SELECT i, i % 7 FROM generate_series(1, 100000) i');
views_equal_definitions($node, \%per_id, 'a group per row of a large transaction');
like(slurp_file($node->logfile, $offset), qr/applying the large transaction \d+, .* in parts/,
	'its groups filled memory, and it was applied in parts');

$node->stop;
done_testing();
