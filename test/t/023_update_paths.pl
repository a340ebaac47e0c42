# Copyright (c) pg_continuous contributors

# Update paths: a database whose continuous views have state, made by the
# library of a released version, goes on counting exactly once the server
# runs the current library and ALTER EXTENSION pg_continuous UPDATE has run.
# For each released version (test/released_versions; make test builds
# their libraries into CONTINUOUS_RELEASED_DIR, test/harness/released.sh),
# in a private copy of the installation whose library the test replaces:
#
#   1. the released library: CREATE EXTENSION ... VERSION, a table stream
#      and views of every kind (tumbling windows with emit = 'changes' and
#      'window_close', hopping, session and count windows, plain GROUP BY
#      with WHERE and HAVING, a group key that is not selected, no GROUP
#      BY), events, and every view equal to its SELECT as batch SQL;
#   2. the current library, the catalog still at the old version: the
#      worker waits (one warning in the log, the same process all along,
#      also after a kill -9), continuous.sync() and CREATE VIEW say to run
#      ALTER EXTENSION ... UPDATE, and events keep being committed;
#   3. ALTER EXTENSION pg_continuous UPDATE: every view catches up with the
#      events committed while the worker waited, and equals its batch query;
#      the definitions are internal views now, and DDL on the stream still
#      names the user's views;
#   4. more events across a kill -9 of the worker while they load, and a
#      restart of the server: every view equals its batch query.
#
# Events load in event-time order (none is late), with a watermark delay of
# zero: a window_close view shows exactly the batch windows that end at or
# before the watermark.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Install;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $current = '0.2';
my @released;
open(my $fh, '<', 'released_versions')
  or die "could not read test/released_versions: $!";
while (<$fh>)
{
	push @released, $1 if /^([0-9][^\s#]*)\s+\S+/;
}
close $fh;
ok(scalar @released, 'there are released versions to update from');

# The views, each with its defining SELECT.  The batch oracle of each is
# below (check()).
my %views = (
	per_minute => q{SELECT continuous.tumble(ts, '1 minute') AS minute,
	                       count(*) AS c, sum(v) AS s
	                  FROM events GROUP BY minute},
	closed_minutes => q{SELECT continuous.tumble(ts, '1 minute') AS minute,
	                           count(*) AS c, sum(v) AS s
	                      FROM events GROUP BY minute},
	hops => q{SELECT w.window_start, count(*) AS c, sum(v) AS s
	            FROM events CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '2 minutes') AS w
	           GROUP BY w.window_start},
	sessions => q{SELECT user_id, continuous.session(ts, '30 seconds') AS session_start,
	                     count(*) AS c, sum(v) AS s
	                FROM events GROUP BY user_id, session_start},
	hundreds => q{SELECT k % 7 AS key, continuous.count_window(100) AS run, count(*) AS c
	                FROM events GROUP BY key, run},
	per_user => q{SELECT user_id, count(*) AS c, sum(v) AS s, avg(v) AS a
	                FROM events WHERE v % 3 <> 0 GROUP BY user_id HAVING count(*) > 1},
	per_region => q{SELECT sum(v) AS s, max(ts) AS last FROM events GROUP BY region},
	totals => q{SELECT count(*) AS c, sum(k) AS sk FROM events});
my %options = (closed_minutes => ", emit = 'window_close'");

# Sessions as batch SQL: one begins where the user's previous event is at
# least the gap before (sql/session_windows.sql).
my $batch_sessions = q{
WITH marked AS (
    SELECT user_id, v, ts,
           CASE WHEN ts - lag(ts) OVER w < '30 seconds' THEN 0 ELSE 1 END AS begins
      FROM events WINDOW w AS (PARTITION BY user_id ORDER BY ts)
), numbered AS (
    SELECT user_id, v, ts,
           sum(begins) OVER (PARTITION BY user_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS n
      FROM marked
)
SELECT user_id, min(ts) AS session_start, count(*) AS c, sum(v) AS s
  FROM numbered GROUP BY user_id, n};

# Count windows: each key's runs of 100 events, all full but the last.
my $batch_hundreds = q{
SELECT key, run, least(100, n - run * 100) AS c
  FROM (SELECT k % 7 AS key, count(*) AS n FROM events GROUP BY 1) t,
       generate_series(0, (n - 1) / 100) AS run};

# Every view against its batch query.
sub check
{
	my ($node, $when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $name (qw(per_minute hops per_user per_region totals))
	{
		is_same_rows($node, $name, $views{$name},
			"$when: view $name equals its batch query");
	}
	is_same_rows($node, 'closed_minutes',
		"SELECT * FROM ($views{per_minute}) b "
		  . "WHERE minute + interval '1 minute' <= continuous._watermark('events')",
		"$when: view closed_minutes shows the closed batch windows");
	is_same_rows($node, 'sessions', $batch_sessions,
		"$when: view sessions equals its batch query");
	is_same_rows($node, 'hundreds', $batch_hundreds,
		"$when: view hundreds numbers each key's events in runs of 100");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM continuous.views WHERE status <> 'active'"),
		'0', "$when: no view failed");
	return;
}

# Events k .. k + n - 1, one every 100 ms of event time, in transactions
# of 1,000 rows.  Each user has a run of 1,000 events (100 seconds), then
# 400 seconds without any: a session each time.
my $next_k = 0;

sub load_sql
{
	my ($n) = @_;
	my $from = $next_k;
	$next_k += $n;
	return qq{
DO \$\$
BEGIN
    FOR b IN 0 .. $n / 1000 - 1 LOOP
        INSERT INTO events
        SELECT k, (k % 13)::int, ((k / 1000) % 5)::int, 'region ' || (k % 4),
               timestamptz '2026-01-01 00:00:00+00' + k * interval '100 ms'
          FROM generate_series($from + b * 1000, $from + b * 1000 + 999) k;
        COMMIT;
    END LOOP;
END
\$\$;
};
}

sub load
{
	my ($node, $n) = @_;
	$node->safe_psql('postgres', load_sql($n));
	return;
}

# continue where the committed events end (a crash cuts a loader short)
sub resume_to
{
	my ($node, $target) = @_;
	$next_k = $node->safe_psql('postgres', 'SELECT coalesce(max(k) + 1, 0) FROM events');
	load($node, $target - $next_k) if $target > $next_k;
	return;
}

# How often the log, from $offset on, matches $pattern.
sub log_matches
{
	my ($node, $offset, $pattern) = @_;
	my $log = substr(slurp_file($node->logfile), $offset);
	my @matches = $log =~ /$pattern/g;
	return scalar @matches;
}

foreach my $version (@released)
{
	my ($library, $why) = released_library($version);

  SKIP:
	{
		skip "library of pg_continuous $version: $why", 1 unless $library;

		$next_k = 0;
		my $install = private_install($library);
		my $node    = continuous_node("from_$version", "jit = off\n",
			install_path => $install);

		# --- 1. the released version, with state ---------------------------
		$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous VERSION '$version';
CREATE TABLE events (k bigint, v int, user_id int, region text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
});
		foreach my $name (sort keys %views)
		{
			$node->safe_psql('postgres',
				"CREATE VIEW $name WITH (continuous"
				  . ($options{$name} // '') . ") AS $views{$name}");
		}
		load($node, 20_000);
		check($node, "$version, its own library");

		# --- 2. the current library, the catalog still at $version -----------
		$node->stop;
		install_library($install, installed_library());
		my $log_offset = -s $node->logfile;
		$node->start;

		my $waiting = qr/the extension in database "postgres" is at version \Q$version\E, but the library is version \Q$current\E; its worker waits/;
		ok( poll_until($node, 'postgres',
				"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker'",
				'1'),
			"$version catalog, $current library: the worker runs");
		my $pid = worker_pid($node);
		load($node, 5_000);

		my ($rc, $stdout, $stderr) =
		  $node->psql('postgres', 'SELECT continuous.sync()');
		like(
			$stderr,
			qr/ERROR:  pg_continuous in this database is at version \Q$version\E, but the server runs its library of version \Q$current\E.*HINT:  Run ALTER EXTENSION pg_continuous UPDATE in this database/s,
			"$version catalog: continuous.sync() says to run ALTER EXTENSION UPDATE");
		($rc, $stdout, $stderr) = $node->psql('postgres',
			'CREATE VIEW later WITH (continuous) AS SELECT count(*) AS c FROM events');
		like($stderr, qr/HINT:  Run ALTER EXTENSION pg_continuous UPDATE in this database/,
			"$version catalog: CREATE VIEW ... WITH (continuous) says the same");

		# no crash loop: the same worker lives on, and says it once
		ok( poll_until($node, 'postgres',
				"SELECT now() - backend_start > interval '3 seconds' "
				  . "FROM pg_stat_activity WHERE pid = $pid"),
			"$version catalog: the worker waits, the same process for 3 seconds");
		is(log_matches($node, $log_offset, $waiting), 1,
			"$version catalog: the log says once that the worker waits");
		like(slurp_file($node->logfile), qr/HINT:  Run ALTER EXTENSION pg_continuous UPDATE in database "postgres"/,
			"$version catalog: the log says what to run");
		unlike(substr(slurp_file($node->logfile), $log_offset),
			qr/pg_continuous worker.*(exited with exit code [^0]|terminated by signal)/,
			"$version catalog: no worker died");

		# a kill -9 while waiting: the new worker waits too
		kill9_worker_and_wait($node);
		load($node, 5_000);
		ok( poll_until($node, 'postgres', "SELECT 1", '1')
			  && poll_until_log($node, $log_offset, $waiting, 2),
			"$version catalog: after kill -9 the new worker waits again");

		# --- 3. ALTER EXTENSION UPDATE ---------------------------------------
		$node->safe_psql('postgres', 'ALTER EXTENSION pg_continuous UPDATE');
		is( $node->safe_psql('postgres',
				"SELECT extversion FROM pg_extension WHERE extname = 'pg_continuous'"),
			$current, "updated from $version to $current");
		check($node, "updated from $version, with the events committed while waiting");
		is( $node->safe_psql('postgres', q{
SELECT count(*) FROM continuous.view_catalog c
  JOIN pg_class q ON q.oid = c.query_view
 WHERE q.relkind = 'v' AND q.relnamespace = 'continuous_storage'::regnamespace
   AND pg_get_viewdef(q.oid) LIKE '%events%'}),
			scalar(keys %views),
			"updated from $version: each view's definition is an internal view");
		is( $node->safe_psql('postgres',
				"SELECT count(*) FROM pg_attribute WHERE attrelid = 'continuous.view_catalog'::regclass "
				  . "AND attname = 'query' AND NOT attisdropped"),
			'0', "updated from $version: no nodeToString() text is left");
		($rc, $stdout, $stderr) = $node->psql('postgres', 'DROP TABLE events');
		like($stderr, qr/DETAIL:  view closed_minutes depends on table events/,
			"updated from $version: DROP TABLE of the stream names its views");
		unlike($stderr, qr/continuous_storage/,
			"updated from $version: ... and no internal object");

		# --- 4. crashes and restarts after the update -------------------------
		my ($out, $err) = ('', '');
		my $loader = IPC::Run::start(
			[
				$node->installed_command('psql'), '-X', '-q', '-v', 'ON_ERROR_STOP=1',
				'-d', $node->connstr('postgres'), '-c', load_sql(30_000)
			],
			'>', \$out, '2>', \$err);
		ok( poll_until($node, 'postgres',
				"SELECT c > 40000 FROM totals"),
			"updated from $version: events loading");
		my $target = $next_k;
		kill9_worker_and_wait($node);
		$loader->finish;
		resume_to($node, $target);
		check($node, "updated from $version, after kill -9 of the worker while loading");

		$node->restart;
		resume_to($node, $next_k + 10_000);
		check($node, "updated from $version, after a restart");

		$node->safe_psql('postgres', 'DROP VIEW per_user');
		is( $node->safe_psql('postgres',
				"SELECT count(*) FROM pg_class WHERE relname LIKE 'per\\_user\\_%' "
				  . "AND relnamespace = 'continuous_storage'::regnamespace"),
			'0', "updated from $version: DROP VIEW drops its storage and definition");

		$node->stop;
	}
}

# Wait until the log, from $offset on, matches $pattern $count times.
sub poll_until_log
{
	my ($node, $offset, $pattern, $count) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		return 1 if log_matches($node, $offset, $pattern) >= $count;
		select(undef, undef, undef, 0.1);
	}
	return 0;
}

done_testing();
