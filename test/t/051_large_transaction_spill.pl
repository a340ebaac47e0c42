# Copyright (c) pg_continuous contributors

# A transaction larger than continuous.large_transaction_memory (here 1 MB)
# keeps the rows that fit in memory, and the rest go to disk
# (src/source/row_spill.c): written to a temporary file that the worker
# reads back after the commit in runs that it folds into the views one by
# one (worker.c, worker_read_spilled()), or, where every view runs them
# before the commit and takes what it made of them, not written at all.
# Checked each time: the views equal their SELECTs over the same rows, and
# whether the worker wrote a temporary file (log_temp_files = 0 logs each,
# named after the process) or decoded a transaction again to write its
# rows (the log says so).
#
#   1. A transaction streamed before its commit (past logical_decoding_work_mem),
#      with externally toasted values in some rows, and a savepoint rolled
#      back (its rows never reached the worker): the views take every row
#      they ran, and nothing is written.
#   1b. A transaction aggregated before its commit, then a large one
#      past memory, committed into one batch: what the views ran of both
#      before their commits is taken, and nothing is written.
#   2. A large transaction that aborts: nothing of it counts.
#   2b. A large transaction whose first rows the views ran while it was
#      open (a sync() between its statements waits for that), and whose
#      later rows went past memory: the fold takes what was run
#      (continuous.views.events_before_commit), and nothing is written.
#   3. A transaction not streamed (logical_decoding_work_mem large), whose
#      rows the commit hands to the decoder all at once.
#   4. A view that cannot take events before the flush (a session window)
#      over the stream: its rows go to disk too, read back in runs that
#      are flushed, as many as memory needs (here one; test/t/052_large_
#      transaction_parts.pl has several, with every kind of view, and
#      kill -9 between them).  The view without windows took the rows held
#      in memory at the flush: fewer than an eighth of
#      large_transaction_memory holds, the most a transaction still
#      streaming keeps before its rows go to disk.  Then a transaction that
#      creates a view among its rows: its rows past memory ran and went
#      unwritten, but the batch changes the catalog, so the worker decodes
#      it again, writing them, and reads them back whole; the log says so.
#   5. kill -9 of the worker once the transaction committed, before the
#      views caught up: after the restart, every row counts once (the
#      transaction comes to the worker at once then, and its rows are
#      written as they come, without decoding it again).
#   6. A partitioned stream, one partition of another column order, with
#      continuous.aggregate_before_commit off: its rows are converted
#      before they go to disk.
#   7. Rows on disk run before the commit, as they are written (and the
#      last of them, after the worker's last turn, before the batch is
#      folded): a streamed transaction with UPDATEs of the stream among its
#      rows on disk; the views take what they ran of every row at the
#      commit, and none is written (continuous.views.events_before_commit
#      counts them); the UPDATEs are counted once.
#      Then kill -9 of the worker once an open transaction's rows on disk
#      have run: the crash ends that transaction too, and nothing of what
#      its rows made outlives it.
#   7c. The worker ends (pg_terminate_backend()) inside an open
#      transaction with savepoints, which it decodes again from its start
#      once back; then the outer savepoint rolls back: its rows do not
#      count.
#   7d. A savepoint rolled back after its rows reached the worker and ran
#      unwritten: what ran cannot be taken, so the worker decodes the
#      transaction again, writing its rows.  Decoded again, the reorder
#      buffer does not tell of the rollback (PostgreSQL 15 wrote the
#      savepoint's changes to its own files before it could stream them);
#      the commit does, and the rolled back rows are passed over when read
#      back.  After such a decoding the next large transaction, phase 8's,
#      is written whatever its views do.
#   8. Another session's events close the windows of a transaction's rows
#      before it commits: they are late at the commit, so the rows on disk
#      are read back and run again, for every view.  The view without
#      windows took the rows held in memory before the commit, fewer than
#      an eighth of large_transaction_memory.
#   9. A row on disk dated further ahead of the clock than max_future: the
#      stream's dead letter, so the rows on disk are read back, and it is
#      taken out of them.
#  10. A poison event among the rows on disk (a division by zero in one
#      view): that view's dead letter at the commit, so the rows on disk
#      are read back, for every view.
#  11. A column added to the stream in the middle of a transaction whose
#      rows go to disk before and after it (continuous.aggregate_before_commit
#      off: they are written, and read back): every row counts once.
#  12. Rows past memory whose states before the commit fill their memory
#      (continuous.state_memory small, a group per row): they stop running
#      before the states would be given up; the views take what ran, the
#      rest is written and read back, and nothing is decoded again.
#  13. A view held by a lock when a transaction whose rows ran unwritten
#      commits: decoded again, and the held view catches up once the lock
#      is gone.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::Crash qw(worker_pid kill9_worker_and_wait);

my $node = continuous_node('large_transaction_spill',
	"logical_decoding_work_mem = '64kB'\ncontinuous.large_transaction_memory = '1MB'\n"
	  . "log_temp_files = 0\n");

my %views = (
	per_user_minute => q{SELECT continuous.tumble(ts, '1 minute') AS m, user_id,
	    count(*) AS n, sum(amount) AS total FROM events GROUP BY 1, 2},
	per_user => q{SELECT user_id, count(*) AS n, sum(amount) AS total,
	    sum(length(note)) AS note_bytes, max(note) AS last_note FROM events GROUP BY 1},
	per_hop => q{SELECT w.window_start, count(*) AS n, sum(amount) AS total FROM events
	    CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '1 minute') AS w GROUP BY 1});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (user_id int, amount int, ts timestamptz NOT NULL, note text);
ALTER TABLE events ALTER COLUMN note SET STORAGE EXTERNAL;
SELECT continuous.create_stream('events', event_time => 'ts', watermark_delay => '1 day');
} . join('', map { "CREATE VIEW $_ WITH (continuous) AS $views{$_};" } sort keys %views));

# rows $from .. $to, of 1,000 users, a second apart; every 500th with a
# note of 8 kB, stored out of line
sub insert_sql
{
	my ($from, $to) = @_;
	return "INSERT INTO events SELECT i % 1000, i % 97, "
	  . "'2026-03-01 10:00+00'::timestamptz + i * interval '1 second', "
	  . "CASE WHEN i % 500 = 0 THEN repeat(md5(i::text), 250) END "
	  . "FROM generate_series($from, $to) i;";
}


sub sync
{
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	return;
}

# events the views took as aggregated before their commit, so far
sub before_commit_of
{
	my ($view) = @_;
	return $node->safe_psql('postgres',
		"SELECT events_before_commit FROM continuous.views WHERE view = '$view'::regclass");
}

sub before_commit
{
	return before_commit_of('per_user');
}

# --- 1. streamed, with toasted rows and a savepoint rolled back -------------
my $pid = worker_pid($node);
my $offset = -s $node->logfile;
my $log;
$node->safe_psql('postgres', 'BEGIN;' . insert_sql(0, 49999)
	  . 'SAVEPOINT s;' . insert_sql(50000, 74999)
	  . 'ROLLBACK TO SAVEPOINT s;' . insert_sql(150000, 199999) . 'COMMIT;');
sync();
is(temp_files_logged($node, $offset, $pid), 0,
	'the rows of a streamed transaction past 1 MB ran before the commit and went unwritten');
unlike(slurp_file($node->logfile, $offset), qr/back into memory whole|decoding the large transaction/,
	'the views took them: nothing was read back, nor decoded again');
views_equal_definitions($node, \%views, 'a streamed transaction on disk, a savepoint rolled back');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM per_user'), '100000',
	'the 25,000 rows rolled back to the savepoint are not counted');

# --- 1b. after a large transaction aggregated before its commit ------------
# With the flush a minute away, a transaction small enough to stay in
# memory streams, is aggregated before its commit and commits into the
# batch; a large one then commits into the same batch with rows on disk.
# The fold before the rows on disk are read back takes what both views ran
# before their commits.
$node->safe_psql('postgres', "ALTER SYSTEM SET continuous.flush_interval = '60s'");
$node->reload;
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
$offset = -s $node->logfile;
$node->safe_psql('postgres', insert_sql(250000, 252999));
$node->safe_psql('postgres', insert_sql(253000, 299999));
sync();
$log = slurp_file($node->logfile, $offset);
ok(temp_files_logged($node, $offset, $pid) == 0 && $log !~ /back into memory whole|decoding the large transaction/,
	'a large transaction after one aggregated before its commit, in one batch, is taken as it ran, nothing written');
views_equal_definitions($node, \%views, 'two large transactions in one batch, one on disk');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET continuous.flush_interval');
$node->reload;

# --- 2. a large transaction that aborts --------------------------------------
$node->safe_psql('postgres', 'BEGIN;' . insert_sql(300000, 399999) . 'ROLLBACK;');
$node->safe_psql('postgres', insert_sql(500000, 500009));
sync();
views_equal_definitions($node, \%views, 'after a large transaction aborted');

# --- 2b. rows run while the transaction is open, then rows on disk ----------
my $early = before_commit();
my $open = $node->background_psql('postgres');
$open->query_safe('BEGIN');
$open->query_safe(insert_sql(550000, 552999));
sync();
$offset = -s $node->logfile;
$open->query_safe(insert_sql(553000, 599999));
$open->query_safe('COMMIT');
$open->quit;
sync();
is(temp_files_logged($node, $offset, $pid), 0,
	'a transaction open across a sync() went past 1 MB unwritten');
views_equal_definitions($node, \%views, 'rows run while their transaction was open, then rows on disk');
cmp_ok(before_commit() - $early, '>', 0,
	'the rows the views ran while it was open were taken by the fold, not run again');

# --- 3. not streamed: the commit hands every row over at once --------------
$node->safe_psql('postgres', "ALTER SYSTEM SET logical_decoding_work_mem = '1GB'");
$node->reload;
$offset = -s $node->logfile;
$node->safe_psql('postgres', insert_sql(600000, 699999));
sync();
ok(temp_files_logged($node, $offset, $pid) > 0,
	'the rows of a transaction decoded at its commit past 1 MB went to a temporary file');
unlike(slurp_file($node->logfile, $offset), qr/back into memory whole/,
	'they were read back in folded runs, not whole');
views_equal_definitions($node, \%views, 'a transaction decoded at its commit, on disk');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET logical_decoding_work_mem');
$node->reload;

# --- 4. a view that cannot take events before the flush ---------------------
# With a session window over the stream, the rows read back are flushed
# rather than folded.
my %all = (%views, per_session => q{SELECT user_id, continuous.session(ts, '30 minutes') AS s,
    count(*) AS n FROM events GROUP BY 1, 2});
my $session_batch = q{WITH marked AS (
      SELECT user_id, ts, CASE WHEN ts - lag(ts) OVER w < '30 minutes' THEN 0 ELSE 1 END AS begins
        FROM events WINDOW w AS (PARTITION BY user_id ORDER BY ts)
  ), numbered AS (
      SELECT user_id, ts, sum(begins) OVER (PARTITION BY user_id ORDER BY ts
                                            ROWS UNBOUNDED PRECEDING) AS k
        FROM marked)
  SELECT user_id, min(ts) AS s, count(*) AS n FROM numbered GROUP BY user_id, k};
$node->safe_psql('postgres',
	"CREATE VIEW per_session WITH (continuous) AS $all{per_session}");
$offset = -s $node->logfile;
$early = before_commit();
$node->safe_psql('postgres', insert_sql(800000, 899999));
sync();
$log = slurp_file($node->logfile, $offset);
ok(temp_files_logged($node, $offset, $pid) > 0,
	'with a session window over the stream, its rows go to a temporary file');
unlike($log, qr/back into memory whole/, 'nothing is read back whole');
# a streamed transaction holds rows up to an eighth of
# large_transaction_memory (128 kB here: about 1,000 of these rows); the
# rest go to disk
my $held = before_commit() - $early;
cmp_ok($held, '>', 0, 'per_user took the rows held in memory before the commit');
cmp_ok($held, '<', 2000,
	'per_user took only the rows held in memory, at most an eighth of large_transaction_memory, and read those on disk back');
views_equal_definitions($node, \%views, 'a view that cannot fold beside them');
is_same_rows($node, 'per_session', $session_batch, 'the session view of a large transaction');
$node->safe_psql('postgres', 'DROP VIEW per_session');

# --- 4b. a transaction that creates a view among its rows -----------------
# The batch changes the continuous catalog, so it is not folded: the rows
# on disk are read back whole, and the log says so.
$views{per_minute} = q{SELECT continuous.tumble(ts, '1 minute') AS m,
    count(*) AS n, sum(amount) AS total FROM events GROUP BY 1};
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'BEGIN;' . insert_sql(1000000, 1049999)
	  . "CREATE VIEW per_minute WITH (continuous) AS $views{per_minute};"
	  . insert_sql(1100000, 1149999) . 'COMMIT;');
sync();
$log = slurp_file($node->logfile, $offset);
like($log, qr/decoding the large transaction \d+ again, to write its rows to disk/,
	'a transaction that creates a view among rows that went unwritten is decoded again');
ok(temp_files_logged($node, $offset, $pid) > 0 && $log =~ /reading a large transaction's rows back into memory whole/,
	'then its rows on disk are read back whole, and the log says so');
views_equal_definitions($node, \%views, 'a view created among a large transaction\'s rows');

# --- 5. kill -9 after the commit, before the views caught up ----------------
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
$node->safe_psql('postgres', insert_sql(2000000, 2149999));
$offset = -s $node->logfile;
kill9_worker_and_wait($node);
$pid = worker_pid($node);
sync();
$log = slurp_file($node->logfile, $offset);
ok(temp_files_logged($node, $offset, $pid) > 0 && $log !~ /decoding the large transaction/,
	'kill -9 after the commit: the transaction came to the worker at once, and its rows were written as they came');
views_equal_definitions($node, \%views, 'kill -9 of the worker after a large transaction committed');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM per_user'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM events'),
	'every row of the table counts once in per_user');

# --- 6. a partitioned stream: rows of a partition of another layout --------
# Rows of events_p1, whose columns are in another order with one dropped,
# are converted to the stream's row type before they go to disk (written:
# the views do not run them before the commit).
my %parted = (by_key => q{SELECT k, count(*) AS n, sum(v) AS total, max(ts) AS last
    FROM pevents GROUP BY k});
$node->safe_psql('postgres', q{
CREATE TABLE pevents (k int, v int, ts timestamptz NOT NULL) PARTITION BY RANGE (ts);
CREATE TABLE pevents_p0 PARTITION OF pevents
    FOR VALUES FROM ('2026-03-01 00:00+00') TO ('2026-03-02 00:00+00');
CREATE TABLE pevents_p1 (ts timestamptz NOT NULL, gone int, v int, k int);
ALTER TABLE pevents_p1 DROP COLUMN gone;
ALTER TABLE pevents ATTACH PARTITION pevents_p1
    FOR VALUES FROM ('2026-03-02 00:00+00') TO ('2026-03-03 00:00+00');
SELECT continuous.create_stream('pevents', event_time => 'ts', watermark_delay => '2 days');
} . "CREATE VIEW by_key WITH (continuous) AS $parted{by_key};");
$node->safe_psql('postgres', 'ALTER SYSTEM SET continuous.aggregate_before_commit = off');
$node->reload;
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
$pid = worker_pid($node);
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{INSERT INTO pevents SELECT i % 1000, i % 89,
    '2026-03-01 00:00+00'::timestamptz + i * interval '1 second'
    FROM generate_series(1, 150000) i});
sync();
ok(temp_files_logged($node, $offset, $pid) > 0,
	'the rows of a large transaction into a partitioned stream went to a temporary file');
views_equal_definitions($node, \%parted, 'a partitioned stream, partly on disk');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pevents_p1"), '63601',
	'the transaction wrote rows of both partitions');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET continuous.aggregate_before_commit');
$node->reload;
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");

# --- 7. rows on disk run before the commit, as they are written --------------
sub ignored_changes
{
	return $node->safe_psql('postgres',
		"SELECT ignored_changes FROM continuous.streams WHERE stream = 'events'::regclass");
}
my %early = map { $_ => before_commit_of($_) } sort keys %views;
my $ignored = ignored_changes();
$offset = -s $node->logfile;
$node->safe_psql('postgres', 'BEGIN;' . insert_sql(2300000, 2314999)
	  . "UPDATE events SET amount = amount WHERE ts >= '2026-03-01 10:00+00'::timestamptz + 2305000 * interval '1 second' AND user_id = 7;"
	  . insert_sql(2315000, 2329999) . 'COMMIT;');
sync();
is(temp_files_logged($node, $offset, $pid), 0,
	'rows on disk run before the commit: past 1 MB, none was written');
views_equal_definitions($node, \%views, 'rows on disk run before the commit');
foreach my $view (sort keys %views)
{
	is(before_commit_of($view) - $early{$view}, 30000,
		"$view took all 30,000 rows, most of them on disk, as it ran them before the commit");
}
is(ignored_changes() - $ignored, '10',
	'the UPDATEs among the rows on disk are counted once each');
is( $node->safe_psql('postgres',
		"SELECT events FROM continuous.stream_stats WHERE stream = 'events'::regclass"),
	$node->safe_psql('postgres', 'SELECT count(*) FROM events'),
	'the stream counts every row once, those the views took as they ran them too');

# --- 7b. kill -9 once an open transaction's rows on disk have run ------------
%early = map { $_ => before_commit_of($_) } sort keys %views;
my $open_7b = $node->background_psql('postgres', on_error_stop => 0);
$open_7b->query_safe('BEGIN; ' . insert_sql(2330000, 2349999));
sync();
kill9_worker_and_wait($node);
eval { $open_7b->quit; };
$node->safe_psql('postgres', insert_sql(2350000, 2350999));
sync();
views_equal_definitions($node, \%views,
	'kill -9 once the rows on disk of an open transaction had run');
is($node->safe_psql('postgres', 'SELECT count(*) FROM events WHERE ts >= '
		  . "'2026-03-01 10:00+00'::timestamptz + 2330000 * interval '1 second'"),
	'1000', '(the crash ended the open transaction: its rows are not in the table)');

# --- 7c. the worker restarts inside a transaction, then its savepoint rolls back
# A worker ended by pg_terminate_backend() (the session keeps its open
# transaction) decodes it again from its start, and its changes up to where
# the views stand come to the worker only once decoding passes there (the
# reorder buffer writes them to its own files until then).  A nested
# savepoint's rows after the restart, then the outer savepoint rolled
# back.  (Event times among phase 7's: on time, and leaving phase 8's
# windows open.)
my $restarted = $node->background_psql('postgres');
$restarted->query_safe('BEGIN; ' . insert_sql(2310000, 2317999)
	  . ' SAVEPOINT s; ' . insert_sql(2318000, 2329999));
sync();
my $old_pid = worker_pid($node);
$node->safe_psql('postgres', "SELECT pg_terminate_backend($old_pid)");
ok( poll_until($node, 'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = current_database() AND pid <> $old_pid"),
	'the worker ended inside the open transaction starts again');
$restarted->query_safe('SAVEPOINT t; ' . insert_sql(2330000, 2332999));
sync();
$restarted->query_safe('ROLLBACK TO SAVEPOINT s; ' . insert_sql(2333000, 2335999) . ' COMMIT;');
$restarted->quit;
sync();
views_equal_definitions($node, \%views,
	'the worker restarted inside a transaction, then its savepoint rolled back');

# --- 7d. a savepoint rolled back after its rows ran unwritten ---------------
# The rows of the savepoint reach the worker before the rollback (the
# sync() waits for it to decode them), and run: what ran cannot be taken,
# and the transaction is decoded again.
# (Its event times stay more than a day before phase 8's, whose windows
# its watermark must leave open.)
$pid = worker_pid($node);
$offset = -s $node->logfile;
my $saving = $node->background_psql('postgres');
$saving->query_safe('BEGIN; ' . insert_sql(2351000, 2360999)
	  . ' SAVEPOINT s; ' . insert_sql(2361000, 2380999));
sync();
$saving->query_safe('ROLLBACK TO SAVEPOINT s; ' . insert_sql(2381000, 2383999) . ' COMMIT;');
$saving->quit;
sync();
$log = slurp_file($node->logfile, $offset);
like($log, qr/decoding the large transaction \d+ again, to write its rows to disk/,
	'a savepoint rolled back among rows that ran unwritten: the transaction is decoded again');
cmp_ok(temp_files_logged($node, $offset, $pid), '>', 0,
	'a savepoint rolled back among rows that ran unwritten: its rows were written then');
views_equal_definitions($node, \%views, 'a savepoint rolled back among rows that ran unwritten');
is($node->safe_psql('postgres', 'SELECT count(*) FROM events WHERE ts >= '
		  . "'2026-03-01 10:00+00'::timestamptz + 2351000 * interval '1 second'"),
	'13000', '(the rows rolled back to the savepoint are not in the table)');

# --- 8. their windows closed by another session before the commit ------------
# Rows at event times a day before the stream's latest, marked amount -1;
# while their transaction is open, another session's event moves the
# watermark five days ahead, closing their windows.  At the commit they are
# late for the windowed views, whatever ran before: every view reads the
# rows on disk back (per_user, without windows, takes only those held in
# memory from before the commit).
%early = map { $_ => before_commit_of($_) } sort keys %views;
my $late_rows = q{INSERT INTO events SELECT i % 1000, -1,
    '2026-03-01 10:00+00'::timestamptz + 2300000 * interval '1 second' + i * interval '1 ms', NULL
    FROM generate_series(1, 40000) i;};
my $closing = $node->background_psql('postgres');
$closing->query_safe("BEGIN; $late_rows");
sync();
$node->safe_psql('postgres', q{INSERT INTO events VALUES
    (1, 1, '2026-03-01 10:00+00'::timestamptz + 2400000 * interval '1 second' + interval '5 days', NULL)});
sync();
$closing->query_safe('COMMIT');
$closing->quit;
sync();
my %on_time = (
	per_minute => q{SELECT continuous.tumble(ts, '1 minute') AS m,
	    count(*) AS n, sum(amount) AS total FROM events WHERE amount >= 0 GROUP BY 1},
	per_user_minute => q{SELECT continuous.tumble(ts, '1 minute') AS m, user_id,
	    count(*) AS n, sum(amount) AS total FROM events WHERE amount >= 0 GROUP BY 1, 2},
	per_hop => q{SELECT w.window_start, count(*) AS n, sum(amount) AS total FROM events
	    CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '1 minute') AS w
	    WHERE amount >= 0 GROUP BY 1});
foreach my $view (sort keys %on_time)
{
	is_same_rows($node, $view, $on_time{$view},
		"windows closed before the commit: $view left out the rows late at it");
	is(before_commit_of($view), $early{$view},
		"windows closed before the commit: $view took nothing that ran before it");
}
is_same_rows($node, 'per_user', $views{per_user},
	'windows closed before the commit: per_user counted every row');
# a streamed transaction holds rows up to an eighth of
# large_transaction_memory (128 kB here: about 1,000 of these rows); the
# rest go to disk
$held = before_commit_of('per_user') - $early{per_user};
cmp_ok($held, '>', 0,
	'windows closed before the commit: per_user took the rows held in memory before the commit');
cmp_ok($held, '<', 2000,
	'windows closed before the commit: per_user took only the rows held in memory, at most an eighth of large_transaction_memory, and read those on disk back');

# --- 9. a row on disk ahead of the clock ---------------------------------------
# After the watermark phase 8 moved; the row ahead is marked amount -2.
%early = map { $_ => before_commit_of($_) } sort keys %views;
my $dead_before = $node->safe_psql('postgres',
	'SELECT count(*) FROM continuous.dead_letters WHERE view IS NULL');
my $after_8 = q{'2026-03-01 10:00+00'::timestamptz + 2400000 * interval '1 second' + interval '5 days'};
$node->safe_psql('postgres', "BEGIN;
INSERT INTO events SELECT i % 1000, i % 97, $after_8 + i * interval '1 ms', NULL
    FROM generate_series(1, 30000) i;
INSERT INTO events VALUES (3, -2, now() + interval '10 days', NULL);
INSERT INTO events SELECT i % 1000, i % 97, $after_8 + i * interval '1 ms', NULL
    FROM generate_series(30001, 40000) i;
COMMIT;");
sync();
is( $node->safe_psql('postgres',
		'SELECT count(*) FROM continuous.dead_letters WHERE view IS NULL') - $dead_before,
	1, 'a row on disk ahead of the clock: the stream\'s dead letter');

# From here on, per_user counts every row but phase 9's row ahead of the
# clock (amount -2), the windowed views every row but it and phase 8's
# late rows (amount -1).
sub views_count_all_but_dead_and_late
{
	my ($what) = @_;
	is_same_rows($node, 'per_user',
		q{SELECT user_id, count(*) AS n, sum(amount) AS total, sum(length(note)) AS note_bytes,
		    max(note) AS last_note FROM events WHERE amount <> -2 GROUP BY 1},
		"$what: per_user counted every row but the one ahead of the clock");
	foreach my $view (sort keys %on_time)
	{
		is_same_rows($node, $view, $on_time{$view},
			"$what: $view counted every row but the one ahead of the clock, and the late ones");
	}
	return;
}
views_count_all_but_dead_and_late('a row on disk ahead of the clock');
cmp_ok(before_commit_of('per_user') - $early{per_user}, '<', 20000,
	'a row on disk ahead of the clock: per_user read the rows on disk back');

# --- 10. a poison event among the rows on disk ---------------------------------
# A view of the rows from here on that divides by amount; one row has 0.
my $from_10 = q{'2026-03-01 10:00+00'::timestamptz + 2400000 * interval '1 second' + interval '6 days'};
$node->safe_psql('postgres', "CREATE VIEW ratios WITH (continuous) AS
    SELECT user_id % 5 AS g, count(*) AS n, sum(1000 / amount) AS q
      FROM events WHERE ts >= $from_10 AND ts < $from_10 + interval '1 day' GROUP BY 1");
%early = map { $_ => before_commit_of($_) } sort keys %views;
$node->safe_psql('postgres', "BEGIN;
INSERT INTO events SELECT i % 1000, i % 97 + 1, $from_10 + i * interval '1 ms', NULL
    FROM generate_series(1, 30000) i;
INSERT INTO events VALUES (4, 0, $from_10 + interval '31 seconds', NULL);
INSERT INTO events SELECT i % 1000, i % 97 + 1, $from_10 + i * interval '1 ms', NULL
    FROM generate_series(31000, 40000) i;
COMMIT;");
sync();
# (its backfill also made a dead letter of phase 9's row ahead of the clock)
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.dead_letters WHERE view = 'ratios'::regclass"
		  . " AND error LIKE '%division by zero%'"),
	'1', 'a poison event on disk: the dead letter of the view it fails in');
is_same_rows($node, 'ratios',
	"SELECT user_id % 5 AS g, count(*) AS n, sum(1000 / amount) AS q FROM events
      WHERE ts >= $from_10 AND ts < $from_10 + interval '1 day' AND amount <> 0 GROUP BY 1",
	'a poison event on disk: ratios counted every other row');
views_count_all_but_dead_and_late('a poison event on disk');
cmp_ok(before_commit_of('per_user') - $early{per_user}, '<', 20000,
	'a poison event on disk: per_user read the rows on disk back too');

# --- 11. a column added in the middle of the rows on disk ----------------------
# The stream gains a column inside a transaction whose rows went to disk
# before and after it: each row is read with the layout it was written
# with, and the views, which do not read the new column, count them all.
my $from_11 = q{'2026-03-01 10:00+00'::timestamptz + 2400000 * interval '1 second' + interval '8 days'};
my $events_before_11 = $node->safe_psql('postgres',
	"SELECT events FROM continuous.stream_stats WHERE stream = 'events'::regclass");
$node->safe_psql('postgres', 'ALTER SYSTEM SET continuous.aggregate_before_commit = off');
$node->reload;
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
$pid = worker_pid($node);
$offset = -s $node->logfile;
$node->safe_psql('postgres', "BEGIN;
INSERT INTO events SELECT i % 1000, i % 97, $from_11 + i * interval '1 ms', NULL
    FROM generate_series(1, 15000) i;
ALTER TABLE events ADD COLUMN extra int DEFAULT 7;
INSERT INTO events (user_id, amount, ts, note, extra)
    SELECT i % 1000, i % 97, $from_11 + i * interval '1 ms', NULL, i
    FROM generate_series(15001, 30000) i;
COMMIT;");
sync();
ok(temp_files_logged($node, $offset, $pid) > 0,
	'a column added among the rows on disk: they went to a temporary file');
is( $node->safe_psql('postgres',
		"SELECT events FROM continuous.stream_stats WHERE stream = 'events'::regclass")
	  - $events_before_11,
	30000, 'a column added among the rows on disk: the stream counted every row once');
views_count_all_but_dead_and_late('a column added among the rows on disk');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET continuous.aggregate_before_commit');

# --- 12. rows on disk whose states fill their memory ---------------------------
# With continuous.state_memory at 16 MB, what the views run before the
# commit may take 4 MB.  60,000 rows of 50,000 users, a millisecond apart:
# nearly every row a group of per_user_minute.  The rows on disk stop
# running before their states would be given up; the views take what ran
# and read the rest back, and nothing is decoded again.
$node->append_conf('postgresql.conf', "continuous.state_memory = '16MB'");
$node->restart;
my $from_12 = q{'2026-03-01 10:00+00'::timestamptz + 2400000 * interval '1 second' + interval '9 days'};
%early = map { $_ => before_commit_of($_) } sort keys %views;
$pid = worker_pid($node);
$offset = -s $node->logfile;
$node->safe_psql('postgres', "INSERT INTO events SELECT i % 50000, i % 97, $from_12 + i * interval '1 ms', NULL
    FROM generate_series(1, 60000) i");
sync();
$log = slurp_file($node->logfile, $offset);
unlike($log, qr/decoding the large transaction/,
	'rows on disk whose states fill their memory: not decoded again');
cmp_ok(temp_files_logged($node, $offset, $pid), '>', 0,
	'rows on disk whose states fill their memory: the rows after those that ran were written');
my $took_12 = before_commit_of('per_user_minute') - $early{per_user_minute};
ok($took_12 > 0 && $took_12 < 60000,
	"rows on disk whose states fill their memory: per_user_minute took what ran before the commit ($took_12 rows), and read the rest back");
views_count_all_but_dead_and_late('rows on disk whose states fill their memory');

# --- 13. a view held by a lock at the commit of rows that went unwritten -------
# The rows ran unwritten while the transaction was open; then another
# session locks per_minute, and the transaction commits.  The worker holds
# per_minute back, so the batch is not folded and the views cannot take
# what they ran: it decodes the transaction again, writing its rows, and
# per_minute catches up once the lock is gone.
my $from_13 = q{'2026-03-01 10:00+00'::timestamptz + 2400000 * interval '1 second' + interval '10 days'};
$pid = worker_pid($node);
$offset = -s $node->logfile;
my $big = $node->background_psql('postgres');
$big->query_safe("BEGIN; INSERT INTO events SELECT i % 1000, i % 97, $from_13 + i * interval '1 ms', NULL
    FROM generate_series(1, 40000) i;");
sync();
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE per_minute IN SHARE MODE;');
$big->query_safe('COMMIT');
$big->quit;
ok( poll_until($node, 'postgres',
		"SELECT status FROM continuous.views WHERE view = 'per_minute'::regclass", 'waiting'),
	'a view held by a lock at the commit of rows that went unwritten: held back');
$locker->query_safe('COMMIT');
$locker->quit;
sync();
$log = slurp_file($node->logfile, $offset);
like($log, qr/decoding the large transaction \d+ again, to write its rows to disk/,
	'a view held by a lock at the commit of rows that went unwritten: the transaction is decoded again');
views_count_all_but_dead_and_late('a view held by a lock at the commit of rows that went unwritten');

$node->stop;
done_testing();
