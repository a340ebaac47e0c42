
# Copyright (c) pg_continuous contributors

# Two restore sessions of pg_restore -j meet at their commits
# (src/ddl/restore.c), in an order the test forces with open transactions,
# never with sleeps.
#
# pg_restore -j empties a stream table it created and copies its rows in
# one transaction (TRUNCATE ONLY, COPY: ACCESS EXCLUSIVE on the table),
# whose commit notes the table loaded and looks for views to bring back
# under the lock on continuous.restore_loaded.  Another session that brings
# a view's last other part looks under that lock too, and asks whether the
# stream table has rows: it must not wait for the loading session, whose
# commit waits for its lock (a deadlock, seen in t/039 under load).  It
# answers "not loaded" instead, and the loading session's commit brings
# the view back.
#
# A database with two views over table stream impressions is dumped with
# pg_dump -Fc (and -Fc --inserts) and restored part by part, each case into
# a database of its own: its pre-data section, then the data and post-data
# items but the stream's rows, one other part B and the read view of
# per_minute.  Then:
#   session A  BEGIN; TRUNCATE ONLY impressions; COPY impressions ... (the
#              dump's rows), left open;
#   session B  the other part, in its own transaction:
#     forward_view     per_campaign's read view (CREATE OR REPLACE VIEW);
#     forward_catalog  the rows of continuous.stream_catalog;
#     reverse_view     as forward_view, but B starts after A has committed;
#     forward_inserts  as forward_view, A's rows INSERTs of the --inserts
#                      dump (noted by its TRUNCATE, so that its commit
#                      looks for the view as after a COPY).
# In the forward cases B returns while A is open (pg_blocking_pids() never
# shows it waiting for A, and A still holds its lock when B is done), and
# per_campaign waits; A's commit brings it back.  Then the rest of the
# post-data section.  In every case: no deadlock in either session or in
# the server's log, no view left pending, each view active and equal to
# its SELECT over the restored rows (EXCEPT ALL both ways) after
# continuous.sync(), and after rows written since, each counted once.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use PgContinuous::Node;
use PgContinuous::Oracle;

my $tempdir = PostgreSQL::Test::Utils::tempdir;
my $node    = continuous_node('restore_lock');

my %views = (
	per_campaign => 'SELECT campaign, count(*) AS n, sum(cost) AS total '
	  . 'FROM impressions GROUP BY campaign',
	per_minute => "SELECT continuous.tumble(ts, '1 minute') AS minute, "
	  . 'count(*) AS n, sum(cost) AS total, min(id) AS first FROM impressions GROUP BY 1');

sub impressions_sql
{
	my ($from, $to) = @_;
	return "INSERT INTO impressions SELECT i, i % 7, i % 13, "
	  . "'2026-01-01 00:00+00'::timestamptz + i * interval '1 second' "
	  . "FROM generate_series($from, $to) i";
}

# --- the source, its dump -----------------------------------------------------
$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE impressions (id int, campaign int, cost int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('impressions', event_time => 'ts',
                                watermark_delay => '1 minute');
} . impressions_sql(1, 4000) . ';'
	  . join('', map { "CREATE VIEW $_ WITH (continuous) AS $views{$_};" } sort keys %views)
	  . impressions_sql(4001, 6000) . ';');
$node->safe_psql('postgres', 'SELECT continuous.sync()');
is_same_rows($node, $_, $views{$_}, "source: $_ equals its SELECT") foreach sort keys %views;

# the rows as COPY, as pg_dump writes them, and as INSERTs (--inserts)
my $dump;
my %dumps = map { $_ => "$tempdir/$_.dump" } 'copy', 'inserts';
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dumps{copy}, 'postgres' ], 'pg_dump -Fc');
$node->command_ok([ 'pg_dump', '-Fc', '--inserts', '-f', $dumps{inserts}, 'postgres' ],
	'pg_dump -Fc --inserts');

# the dump's items of a section, as lines of a pg_restore -L list
sub toc
{
	my ($section) = @_;
	my ($out, $err) = run_command([ 'pg_restore', '-l', "--section=$section", $dump ]);
	return grep { /^\d+;/ } split /\n/, $out;
}
my (@data, @post);

sub use_dump
{
	my ($kind) = @_;
	$dump = $dumps{$kind};
	@data = toc('data');
	@post = toc('post-data');
	return;
}
use_dump('copy');

my %items = (
	rows => qr/ TABLE DATA public impressions /,
	stream_catalog => qr/ TABLE DATA continuous stream_catalog /,
	per_campaign_view => qr/ RULE public per_campaign /,
	per_minute_view => qr/ RULE public per_minute /);
foreach my $item (sort keys %items)
{
	is(scalar(grep { $_ =~ $items{$item} } @data, @post), 1, "the dump has one item $item");
}

my $list_no = 0;

# a list of the given items for pg_restore -L
sub list_file
{
	my $file = "$tempdir/items_" . ++$list_no . '.list';
	open(my $fh, '>', $file) or die "could not write $file: $!";
	print $fh "$_\n" foreach @_;
	close($fh);
	return $file;
}

# item $item of the dump, as the SQL pg_restore runs for it
sub item_sql
{
	my ($item) = @_;
	my $file = "$tempdir/items_" . ++$list_no . '.sql';
	$node->command_ok(
		[
			'pg_restore', '-L', list_file(grep { $_ =~ $items{$item} } @data, @post),
			'-f', $file, $dump
		],
		"the SQL of $item");
	return $file;
}

sub restore_items
{
	my ($db, $what, @lines) = @_;
	$node->command_ok(
		[ 'pg_restore', '--exit-on-error', '-d', $db, '-L', list_file(@lines), $dump ],
		"$db: pg_restore of $what");
	return;
}

sub status
{
	my ($db, $view) = @_;
	return $node->safe_psql($db,
		"SELECT status FROM continuous.views WHERE view = '$view'::regclass");
}

# session B: psql running $file, named so that pg_stat_activity shows it
sub start_b
{
	my ($db, $file) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr($db) . ' application_name=restore_b',
			'-f', $file
		],
		'<', \undef, '>', \$out, '2>', \$err,
		IPC::Run::timeout(5 * $PostgreSQL::Test::Utils::timeout_default));
	return { h => $h, err => \$err };
}

# 'done' once session B has ended, 'blocked' as soon as it waits for
# session A ($a_pid)
sub b_done_or_blocked
{
	my ($db, $b, $a_pid) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		$b->{h}->pump_nb;
		return 'done' unless $b->{h}->pumpable;
		return 'blocked'
		  if $node->safe_psql($db,
			"SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'restore_b' "
			  . "AND $a_pid = ANY (pg_catalog.pg_blocking_pids(pid))") eq 't';
		usleep(50_000);
	}
	return 'timed out';
}

sub finish_b
{
	my ($db, $b) = @_;
	my $ok = $b->{h}->finish;
	ok($ok, "$db: session B ran without an error");
	diag ${ $b->{err} } unless $ok;
	unlike(${ $b->{err} }, qr/deadlock/, "$db: no deadlock in session B");
	return;
}

sub check_views
{
	my ($db, $when) = @_;
	$node->safe_psql($db, "SELECT continuous.sync('2 minutes')");
	foreach my $name (sort keys %views)
	{
		is(status($db, $name), 'active', "$db, $when: $name is active");
		is_same_rows($node, $name, $views{$name}, "$db, $when: $name equals its SELECT", $db);
	}
	is( $node->safe_psql($db, 'SELECT sum(n) FROM per_campaign'),
		$node->safe_psql($db, 'SELECT count(*) FROM impressions'),
		"$db, $when: per_campaign counts each row once");
	return;
}

# --- the cases ------------------------------------------------------------------
sub restore_case
{
	my ($db, $kind, $b_item, $a_first) = @_;
	use_dump($kind);
	my $rows   = item_sql('rows');
	my $b_file = item_sql($b_item);
	like(slurp_file($rows),
		$kind eq 'copy' ? qr/^COPY public\.impressions /m : qr/^INSERT INTO public\.impressions /m,
		"$db: the dump's rows are loaded by " . ($kind eq 'copy' ? 'COPY' : 'INSERTs'));
	my @held = ($items{rows}, $items{$b_item}, $items{per_minute_view});

	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->command_ok([ 'pg_restore', '--exit-on-error', '--section=pre-data', '-d', $db, $dump ],
		"$db: pg_restore --section=pre-data");
	restore_items($db, "the rest but the stream's rows, $b_item and per_minute's read view",
		grep { my $l = $_; !grep { $l =~ $_ } @held } @data, @post);
	is(status($db, 'per_campaign'), 'restoring', "$db: per_campaign waits for its parts");

	# session A, as pg_restore -j loads a table it created
	my $a = $node->background_psql($db, on_error_stop => 0);
	my $a_pid = $a->query_safe('SELECT pg_backend_pid()');
	$a->query_safe('BEGIN; TRUNCATE ONLY public.impressions');
	$a->query_safe("\\i $rows");
	is( $node->safe_psql($db,
			"SELECT mode || ' ' || granted FROM pg_locks WHERE pid = $a_pid "
			  . "AND relation = 'impressions'::regclass AND mode = 'AccessExclusiveLock'"),
		'AccessExclusiveLock true', "$db: session A holds the stream table, loading it");

	if ($a_first)
	{
		my ($out, $failed) = $a->query('COMMIT');
		ok(!$failed, "$db: session A commits first") or diag $a->{stderr};
		is(status($db, 'per_campaign'), 'restoring',
			"$db: per_campaign waits for its read view after the rows are in");
		finish_b($db, start_b($db, $b_file));
	}
	else
	{
		my $b = start_b($db, $b_file);
		my $state = b_done_or_blocked($db, $b, $a_pid);
		is($state, 'done', "$db: session B brings $b_item without waiting for session A");
		if ($state ne 'done')
		{
			diag $node->safe_psql($db,
				"SELECT pid, locktype, relation::regclass, mode, granted FROM pg_locks "
				  . "WHERE NOT granted OR pid = $a_pid");
		}
		else
		{
			is( $node->safe_psql($db,
					"SELECT state FROM pg_stat_activity WHERE pid = $a_pid"),
				'idle in transaction', "$db: session A is still open when B is done");
			is(status($db, 'per_campaign'), 'restoring',
				"$db: per_campaign waits for the rows session A has not committed");
		}
		# if B waits, this commit is the other half of the deadlock
		my ($out, $failed) = $a->query('COMMIT');
		ok(!$failed, "$db: session A commits after B") or diag $a->{stderr};
		unlike($a->{stderr}, qr/deadlock/, "$db: no deadlock in session A");
		finish_b($db, $b);
	}
	$a->quit;
	is(status($db, 'per_campaign'), 'active', "$db: the last part's commit brings per_campaign back");

	restore_items($db, "per_minute's read view", grep { $_ =~ $items{per_minute_view} } @post);
	is( $node->safe_psql($db,
			'SELECT count(*) FROM continuous.view_catalog WHERE restore_pending'),
		'0', "$db: no view is left pending");
	is($node->safe_psql($db, 'SELECT count(*) FROM impressions'), '6000',
		"$db: the stream's rows are restored");
	check_views($db, 'restored');
	$node->safe_psql($db, impressions_sql(6001, 7500));
	check_views($db, 'restored, then more rows');
	return;
}

restore_case('forward_view',    'copy',    'per_campaign_view', 0);
restore_case('forward_catalog', 'copy',    'stream_catalog',    0);
restore_case('reverse_view',    'copy',    'per_campaign_view', 1);
restore_case('forward_inserts', 'inserts', 'per_campaign_view', 0);

unlike(slurp_file($node->logfile), qr/deadlock detected/, 'no deadlock in the server log');

$node->stop;
done_testing();
