# Copyright (c) pg_continuous contributors

# The memory a batch fills at once asks the kernel for transparent huge
# pages (continuous_advise_huge_pages(), src/base/memory.c): the blocks of a
# batch's rows, as a large transaction streams to the worker before its
# commit, and the buckets of a view's group table of many groups, kept from
# batch to batch.  Seen in the worker's /proc/PID/smaps, where such a
# mapping's VmFlags say "hg".  Each is seen alone, in a worker just
# started: 300,000 rows before their commit, with no view aggregating them
# yet; then 5,000 rows, too few for a large block, whose hops of 60 windows
# make 300,000 groups of a view that takes only them.  With continuous.transparent_huge_pages off, no
# mapping of a worker that ran both loads says so.  Every time the views
# equal their SELECTs over the same rows.  Skipped on a kernel without
# transparent huge pages.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Node;
use PgContinuous::Oracle;
use PgContinuous::Crash qw(worker_pid);

plan skip_all => 'the kernel has no transparent huge pages'
  unless -e '/sys/kernel/mm/transparent_hugepage/enabled';

# Logical decoding streams a transaction to the worker past 64 kB.  The
# views do not aggregate it before its commit, so that what the worker
# holds until then is the rows alone.  The worker flushes when sync() asks
# (or a minute has passed): a flush with no events would make the group
# table small again (group_table_reset()).
my $node = continuous_node('huge_pages',
	"logical_decoding_work_mem = '64kB'\ncontinuous.aggregate_before_commit = off\n"
	  . "continuous.flush_interval = '60s'\n");

my %views = (
	per_user_minute => q{SELECT continuous.tumble(ts, '1 minute') AS m, user_id,
	    count(*) AS n, sum(amount) AS total FROM events GROUP BY 1, 2},
	per_user_hop => q{SELECT w.window_start, user_id, count(*) AS n FROM events
	    CROSS JOIN LATERAL continuous.hop(ts, '60 seconds', '1 second') AS w
	    WHERE amount < 0 GROUP BY 1, 2});

$node->safe_psql('postgres', q{
CREATE EXTENSION pg_continuous;
CREATE TABLE events (user_id int, amount int, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
} . join('', map { "CREATE VIEW $_ WITH (continuous) AS $views{$_};" } sort keys %views));

# rows $from .. $to of $users users, row i at minute i / 100,000 after
# 10:00 (each load later than the one before); the hops' rows, of a
# negative amount, if $hops
sub events_sql
{
	my ($from, $to, $users, $hops) = @_;
	my $amount = $hops ? '-1 - i % 97' : 'i % 97';
	return "INSERT INTO events SELECT i % $users, $amount, "
	  . "'2026-03-01 10:00+00'::timestamptz + (i / 100000) * interval '1 minute' "
	  . "FROM generate_series($from, $to) i";
}

# How many of the process's mappings asked for huge pages.
sub advised_mappings
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/smaps") or die "could not read /proc/$pid/smaps: $!";
	my $n = grep { /^VmFlags:.*\bhg\b/ } <$fh>;
	close($fh);
	return $n;
}

my $groups = 0;

# 300,000 rows of 100,000 users, in one transaction; $before_commit is
# called once the worker has read them, before the commit
sub large_transaction
{
	my ($from, $before_commit) = @_;
	my $session = $node->background_psql('postgres');
	$session->query_safe('BEGIN');
	$session->query_safe(events_sql($from, $from + 299999, 100000));
	$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
	$before_commit->();
	$session->query_safe('COMMIT');
	$session->quit;
	return;
}

# --- on (the default) -------------------------------------------------------
my $pid = worker_pid($node);
large_transaction(0,
	sub {
		ok(advised_mappings($pid) > 0,
			'the worker asks for huge pages for the rows of a large transaction before its commit');
	});
views_equal_definitions($node, \%views, 'on, a large transaction');

$node->restart;
$pid = worker_pid($node);
$node->safe_psql('postgres', events_sql(1000000, 1004999, 5000, 'hops'));
$node->safe_psql('postgres', "SELECT continuous.sync('1 minute')");
ok(advised_mappings($pid) > 0,
	'the group table of 300,000 groups asks for huge pages, kept after the flush');
views_equal_definitions($node, \%views, 'on, 5,000 rows in 300,000 groups');
is($node->safe_psql('postgres', 'SELECT count(*) FROM per_user_hop'),
	'300000', 'the 5,000 rows are in 300,000 groups of per_user_hop');

# --- off: a new worker, both loads ------------------------------------------
$node->append_conf('postgresql.conf', "continuous.transparent_huge_pages = off\n");
$node->restart;
$pid = worker_pid($node);
large_transaction(2000000, sub { });
$node->safe_psql('postgres', events_sql(3000000, 3004999, 5000, 'hops'));
views_equal_definitions($node, \%views, 'off, both loads');
is(advised_mappings($pid), 0,
	'with continuous.transparent_huge_pages off, no mapping of the worker asks for huge pages');

$node->stop;
done_testing();
