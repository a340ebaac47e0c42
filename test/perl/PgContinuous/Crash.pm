# Copyright (c) pg_continuous contributors

# PgContinuous::Crash: kill -9 helpers shared by the TAP tests.
#
#   kill9_postmaster_and_restart($node [, $on_killed])
#       kill -9 the postmaster, wait until every process of the cluster is
#       gone (they linger until they notice), call $on_killed (e.g. to close
#       clients), then start the node again.
#   worker_pid($node [, $dbname])
#       PID of the (first) pg_continuous worker of the database, or undef.
#   kill9_worker_and_wait($node [, $dbname])
#       kill -9 that worker and wait until a new one runs (the postmaster
#       resets every process first).  Returns the old PID.

package PgContinuous::Crash;

use strict;
use warnings;

use Exporter 'import';
use PostgreSQL::Test::Utils;
use PgContinuous::Node;
use Time::HiRes qw(usleep);

our @EXPORT = qw(kill9_postmaster_and_restart worker_pid kill9_worker_and_wait);

sub postmaster_children
{
	my ($ppid) = @_;
	my @children;
	foreach my $stat (glob('/proc/[0-9]*/stat'))
	{
		open(my $fh, '<', $stat) or next;
		my $line = <$fh>;
		close($fh);
		next unless defined $line && $line =~ /^(\d+) \(.*\) (\S) (\d+) /s;
		push @children, $1 if $3 == $ppid && $2 ne 'Z';
	}
	return @children;
}

sub alive
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $line = <$fh>;
	close($fh);
	return defined $line && $line !~ /^\d+ \(.*\) Z /s;
}

# Processes of the cluster: the postmaster's children, and any process whose
# title names the cluster (a child forked just before the kill is not in a
# list taken before it).
sub cluster_processes
{
	my ($node, $ppid) = @_;
	my $title = 'postgres: ' . $node->name . ': ';
	my @pids = grep { alive($_) } postmaster_children($ppid);
	foreach my $cmdline (glob('/proc/[0-9]*/cmdline'))
	{
		open(my $fh, '<', $cmdline) or next;
		my $line = <$fh> // '';
		close($fh);
		push @pids, $1 if index($line, $title) == 0 && $cmdline =~ m{/proc/(\d+)/};
	}
	return grep { alive($_) } @pids;
}

sub kill9_postmaster_and_restart
{
	my ($node, $on_killed) = @_;
	my $pid = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
	my @children = postmaster_children($pid);
	$node->kill9;
	$on_killed->() if $on_killed;

	# A process of the old cluster that still runs writes pages and WAL
	# behind the new one's back, with transaction ids the new one hands out
	# again: wait until none is left.
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	my %known = map { $_ => 1 } @children;
	my %late;
	while (my @left = ((grep { alive($_) } @children), cluster_processes($node, $pid)))
	{
		$late{$_} = 1 foreach grep { !$known{$_} } @left;
		die "processes of the killed cluster still alive" if time > $deadline;
		usleep(100_000);
	}
	Test::More::note('waited for ' . scalar(keys %late)
		  . ' process(es) of the old cluster forked after the kill was prepared')
	  if %late;
	# A new postmaster refuses to start while the old PID exists, even as a
	# zombie nobody reaps; a dead postmaster's lock file is stale.
	$deadline = time + 10;
	usleep(100_000) while -e "/proc/$pid" && time < $deadline;
	unlink($node->data_dir . '/postmaster.pid') if -e "/proc/$pid" && !alive($pid);
	$node->start;
	return;
}

# The database's workers' PIDs, the first worker's first.
sub worker_pids
{
	my ($node, $dbname) = @_;
	return grep { /^\d+$/ } split /\n/,
	  $node->safe_psql($dbname,
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = current_database() ORDER BY application_name, pid");
}

sub worker_pid
{
	my ($node, $dbname) = @_;
	return (worker_pids($node, $dbname // 'postgres'))[0];
}

# With continuous.workers > 1, the others die with the one killed (the
# postmaster resets every process): wait for one none of them was.
sub kill9_worker_and_wait
{
	my ($node, $dbname) = @_;
	$dbname //= 'postgres';
	my @old = worker_pids($node, $dbname) or die "no pg_continuous worker running";
	kill 'KILL', $old[0];
	poll_until($node, $dbname,
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'pg_continuous worker' "
		  . "AND datname = current_database() AND pid NOT IN (" . join(',', @old) . ")")
	  or die "no new pg_continuous worker after kill -9 of $old[0]";
	return $old[0];
}

1;
