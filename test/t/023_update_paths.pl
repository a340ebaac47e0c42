# Copyright (c) pg_continuous contributors

# Update paths: a database whose continuous views have state, made by the
# library of a released version, goes on counting exactly once the server
# runs the current library and ALTER EXTENSION pg_continuous UPDATE has run.
# For each released version (test/released_versions; make test builds
# their libraries into CONTINUOUS_RELEASED_DIR, test/harness/released.sh),
# in a private copy of the installation whose library the test replaces:
#
#   1. the released library: CREATE EXTENSION ... VERSION, a table stream
#      and views of every kind (PgContinuous::EveryKind: tumbling windows
#      with emit = 'changes' and 'window_close', hopping, session and count
#      windows, GROUP BY with WHERE and HAVING, a group key that is not
#      selected, no GROUP BY, hll's aggregate), events, and every view
#      equal to its SELECT as batch SQL;
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

use strict;
use warnings;

use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::EveryKind;
use PgContinuous::Install;
use PgContinuous::Node;

my $current = '0.2';
my @released;
open(my $fh, '<', dirname(__FILE__) . '/../released_versions')
  or die "could not read test/released_versions: $!";
while (<$fh>)
{
	push @released, $1 if /^([0-9][^\s#]*)\s+\S+/;
}
close $fh;
ok(scalar @released, 'there are released versions to update from');

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

		my $install = private_install($library, "install_$version");
		my $node    = continuous_node("from_$version", "jit = off\n",
			install_path => $install);

		# --- 1. the released version, with state ---------------------------
		$node->safe_psql('postgres',
			"CREATE EXTENSION pg_continuous VERSION '$version'");
		my @views = create_every_kind($node);
		$node->safe_psql('postgres', load_events_sql(20_000));
		check_every_kind($node, "$version, its own library");

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
		$node->safe_psql('postgres', load_events_sql(5_000));

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
		$node->safe_psql('postgres', load_events_sql(5_000));
		ok( poll_until($node, 'postgres', "SELECT 1", '1')
			  && poll_until_log($node, $log_offset, $waiting, 2),
			"$version catalog: after kill -9 the new worker waits again");

		# --- 3. ALTER EXTENSION UPDATE ---------------------------------------
		$node->safe_psql('postgres', 'ALTER EXTENSION pg_continuous UPDATE');
		is( $node->safe_psql('postgres',
				"SELECT extversion FROM pg_extension WHERE extname = 'pg_continuous'"),
			$current, "updated from $version to $current");
		check_every_kind($node,
			"updated from $version, with the events committed while waiting");
		is( $node->safe_psql('postgres', q{
SELECT count(*) FROM continuous.view_catalog c
  JOIN pg_class q ON q.oid = c.query_view
 WHERE q.relkind = 'v' AND q.relnamespace = 'continuous_storage'::regnamespace
   AND pg_get_viewdef(q.oid) LIKE '%events%'}),
			scalar(@views),
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
				'-d', $node->connstr('postgres'), '-c', load_events_sql(30_000)
			],
			'>', \$out, '2>', \$err);
		ok( poll_until($node, 'postgres',
				"SELECT c > 40000 FROM totals"),
			"updated from $version: events loading");
		kill9_worker_and_wait($node);
		$loader->finish;
		resume_events($node);
		check_every_kind($node,
			"updated from $version, after kill -9 of the worker while loading");

		$node->restart;
		$node->safe_psql('postgres', load_events_sql(10_000));
		check_every_kind($node, "updated from $version, after a restart");

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
