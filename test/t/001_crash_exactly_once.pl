
# Copyright (c) pg_continuous contributors

# Exactly once across crashes: continuous views over a table stream must equal
# their own SELECT run as batch SQL over the stream table, after
#   phase A: kill -9 of the postmaster in the middle of loading, restart;
#   phase B: kill -9 of the database's worker (the postmaster then resets
#            every process) while loading, including one large COPY;
#   phase C: loading to the end without interruption.
# Four concurrent writer sessions commit INSERT ... SELECT transactions (every
# seventh is rolled back).  Writers killed by a crash lose their in-flight
# transaction, which is fine: the oracle reads the table.
#
# CONTINUOUS_TEST_EVENTS sets the number of events (default 1000000); a small
# value makes a quick smoke run.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Node;

my $total_events = $ENV{CONTINUOUS_TEST_EVENTS} // 1_000_000;
my $n_writers    = 4;
my $copy_events  = int($total_events / 5);
my $batch        = $total_events >= 100_000 ? 1000 : int($total_events / 100) || 1;

my $node = continuous_node(
	'crash', q{
max_wal_size = 4GB
});

# The views under test, each with its defining query: the batch oracle.
my %views = (
	by_group => {
		query => 'SELECT k % 97 AS g, count(*) AS c, sum(v) AS s, min(v) AS mn, '
		  . 'max(v) AS mx, avg(f) AS af FROM events GROUP BY g',
		keys   => ['g'],
		exact  => [qw(c s mn mx)],
		approx => ['af'],
	},
	totals => {
		query => 'SELECT count(*) AS c, sum(v) AS s, sum(k::bigint) AS sk FROM events',
		keys   => [],
		exact  => [qw(c s sk)],
		approx => [],
	},
	filtered => {
		query => 'SELECT k % 10 AS g, count(*) AS c, sum(v) AS s, max(f) AS mf '
		  . 'FROM events WHERE v % 3 = 0 GROUP BY g',
		keys   => ['g'],
		exact  => [qw(c s mf)],
		approx => [],
	});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (k int, v int, f float8, ts timestamptz NOT NULL DEFAULT now());
SELECT continuous.create_stream('events', event_time => 'ts');
});
foreach my $name (sort keys %views)
{
	$node->safe_psql('postgres',
		"CREATE VIEW $name WITH (continuous) AS $views{$name}{query}");
}

# Number of rows returned by comparing a view with its batch query: groups
# missing on either side, or with a different value.  Floating-point sums
# differ in the last bits with summation order, hence the tolerance.
sub mismatch_sql
{
	my ($name) = @_;
	my $v  = $views{$name};
	my $on = @{ $v->{keys} } ? join(' AND ', map { "v.$_ = b.$_" } @{ $v->{keys} }) : 'true';
	my @differs = ('v.present IS NULL', 'b.present IS NULL');
	push @differs, map { "v.$_ IS DISTINCT FROM b.$_" } @{ $v->{exact} };
	push @differs,
	  map { "(v.$_ IS NULL) <> (b.$_ IS NULL) OR abs(v.$_ - b.$_) > 1e-9 * greatest(1, abs(b.$_))" }
	  @{ $v->{approx} };
	return "FROM (SELECT *, true AS present FROM $name) v "
	  . "FULL JOIN (SELECT *, true AS present FROM ($v->{query}) q) b ON $on "
	  . "WHERE " . join(' OR ', map { "($_)" } @differs);
}

sub check_views
{
	my ($when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $name (sort keys %views)
	{
		my $sql = mismatch_sql($name);
		my $bad = $node->safe_psql('postgres', "SELECT count(*) $sql");
		is($bad, '0', "$when: view $name equals its batch query");
		if ($bad ne '0')
		{
			diag "first differing rows (view columns, then batch columns):\n"
			  . $node->safe_psql('postgres', "SELECT v.*, b.* $sql LIMIT 10");
			diag "storage rows (ctid, xmin, xmax, ...):\n"
			  . $node->safe_psql('postgres',
				"SELECT ctid, xmin, xmax, * FROM continuous_storage.${name}_state LIMIT 10");
			diag "positions: "
			  . $node->safe_psql('postgres',
				"SELECT lsn FROM continuous.decoder_position UNION ALL "
				  . "SELECT active_from FROM continuous.view_stats");
		}
	}
	my $rows = $node->safe_psql('postgres', 'SELECT count(*) FROM events');
	is($node->safe_psql('postgres', 'SELECT c FROM totals'),
		$rows, "$when: totals view counts every committed row ($rows)");
	return $rows;
}

# Writer scripts: consecutive key ranges, so every event is distinct.
my $next_k  = 1;
my $tempdir = PostgreSQL::Test::Utils::tempdir;

sub writer_script
{
	my ($name, $events) = @_;
	my $file = "$tempdir/$name.sql";
	open(my $fh, '>', $file) or die "could not write $file: $!";
	my $txn = 0;
	while ($events > 0)
	{
		my $n = $events < $batch ? $events : $batch;
		my ($lo, $hi) = ($next_k, $next_k + $n - 1);
		$next_k += $n;
		$txn++;
		my $rollback = $txn % 7 == 0;
		print $fh "BEGIN;\n"
		  . "INSERT INTO events (k, v, f) SELECT g, (g::bigint * 7919) % 10007 - 5000, random() "
		  . "FROM generate_series($lo, $hi) g;\n"
		  . ($rollback ? "ROLLBACK;\n" : "COMMIT;\n");
		$events -= $n unless $rollback;
	}
	close($fh);
	return $file;
}

sub start_psql
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), @args ],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(20 * $PostgreSQL::Test::Utils::timeout_default));
	return { h => $h, out => \$out, err => \$err };
}

sub start_writers
{
	my ($phase, $events) = @_;
	my $per_writer = int($events / $n_writers);
	return [ map { start_psql('-f', writer_script("writer_${phase}_$_", $per_writer)) }
		  1 .. $n_writers ];
}

sub finish_ok
{
	my ($p, $what) = @_;
	my $ok = $p->{h}->finish;
	ok($ok, "$what completed");
	diag ${ $p->{err} } unless $ok;
}

sub crash_postmaster_and_restart
{
	my ($writers) = @_;
	# Their server is gone; closing the clients also ends their backends.
	kill9_postmaster_and_restart($node, sub { $_->{h}->kill_kill foreach @$writers });
}

# Writers load 40% of their share in phase A, 30% in B, the rest in C.
my $per_phase = int(($total_events - $copy_events) / 10);

note "events: $total_events ($copy_events by COPY), batches of $batch";

# --- phase A: kill -9 of the postmaster while loading --------------------
my $writers = start_writers('a', 4 * $per_phase);
my $threshold = int(4 * $per_phase * 0.3);
ok( poll_until($node, 'postgres',
		"SELECT (SELECT count(*) FROM events) >= $threshold "
		  . "AND (SELECT coalesce(max(c), 0) FROM totals) > 0"),
	'phase A: loading under way and views flushed');
crash_postmaster_and_restart($writers);

my $rows_a = check_views('after postmaster crash');

# --- phase B: kill -9 of the worker while loading, with a large COPY -----
my $copy_file = "$tempdir/events.copy";
open(my $fh, '>', $copy_file) or die "could not write $copy_file: $!";
for my $i (0 .. $copy_events - 1)
{
	my $k = $next_k + $i;
	printf $fh "%d\t%d\t%.9f\n", $k, ($k * 7919) % 10007 - 5000, rand();
}
close($fh);
$next_k += $copy_events;

$writers = start_writers('b', 3 * $per_phase);
my $copy = start_psql('-c', "COPY events (k, v, f) FROM '$copy_file'");
finish_ok($copy, 'phase B: COPY of ' . $copy_events . ' rows');

ok( poll_until($node, 'postgres', "SELECT (SELECT c FROM totals) > $rows_a"),
	'phase B: worker flushed new events');
my $worker_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
	  . "AND datname = 'postgres'");
like($worker_pid, qr/^\d+$/, 'phase B: found the worker');
$worker_pid = 0 unless $worker_pid =~ /^\d+$/;
kill 'KILL', $worker_pid if $worker_pid;

# The postmaster resets every process, writers' sessions included; wait for
# a new worker.
ok( poll_until($node, 'postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = 'postgres' AND pid <> $worker_pid",
		'1'),
	'phase B: worker restarted after the crash');
$_->{h}->kill_kill foreach @$writers;

# --- phase C: load to the end --------------------------------------------
# Make up for the transactions the crashes cut short.
my $remaining = $total_events - $node->safe_psql('postgres', 'SELECT count(*) FROM events');
$remaining = $n_writers if $remaining < $n_writers;
$writers = start_writers('c', $remaining + $n_writers - 1);
finish_ok($writers->[$_], "phase C: writer $_") foreach 0 .. $#$writers;

my $rows = check_views('at the end');
cmp_ok($rows, '>=', $total_events, "at least $total_events events committed");
is($node->safe_psql('postgres', 'SELECT count(*) FROM continuous.dead_letters'),
	'0', 'no dead letters');

$node->stop;
done_testing();
