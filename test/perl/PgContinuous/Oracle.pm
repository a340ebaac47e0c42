# Copyright (c) pg_continuous contributors

# PgContinuous::Oracle: the main oracle of the TAP tests, a continuous
# view (or any query over one) compared with a batch query over the same
# events, as multisets of rows.
#
#   rows_differ($node, $actual, $expected [, $dbname])
#       the number of rows in one and not the other (counting duplicates),
#       in database $dbname (default postgres).
#   is_same_rows($node, $actual, $expected, $test_name [, $dbname])
#       a test that passes when that number is 0; when it is not, the
#       first differing rows go to the diagnostics, each marked with the
#       side it is missing from.
#   views_equal_batches($node, \%views, $stream, $table, $when)
#       is_same_rows for each view name => defining query in %views, the
#       batch query being the definition with FROM $stream turned into
#       FROM $table (a plain table of the same events).
#   views_equal_definitions($node, \%views, $when)
#       after continuous.sync(), is_same_rows for each view name =>
#       defining query in %views, run as it is.
#   is_emitted_once($node, $view, $window_column, $when)
#       tests that the emission table of window_close view $view
#       (continuous_storage.${view}_closed) holds each closed window once,
#       and holds exactly the rows of $view.
#
# $actual and $expected are queries ("TABLE v" or "SELECT ...") or view
# names; floating-point columns need exact sums (integers or numeric).

package PgContinuous::Oracle;

use strict;
use warnings;

use Exporter 'import';
use Test::More;

our @EXPORT = qw(rows_differ is_same_rows views_equal_batches
  views_equal_definitions is_emitted_once);

sub as_query
{
	my ($q) = @_;
	return $q =~ /^\s*(SELECT|TABLE|WITH|VALUES)\b/i ? $q : "TABLE $q";
}

sub difference_sql
{
	my ($actual, $expected) = map { as_query($_) } @_;
	return "SELECT 'only in actual' AS side, * FROM (($actual) EXCEPT ALL ($expected)) a "
	  . "UNION ALL "
	  . "SELECT 'only in expected', * FROM (($expected) EXCEPT ALL ($actual)) e";
}

sub rows_differ
{
	my ($node, $actual, $expected, $dbname) = @_;
	return $node->safe_psql($dbname // 'postgres',
		'SELECT count(*) FROM (' . difference_sql($actual, $expected) . ') d');
}

sub is_same_rows
{
	my ($node, $actual, $expected, $test_name, $dbname) = @_;
	my $n  = rows_differ($node, $actual, $expected, $dbname);
	my $ok = is($n, '0', $test_name);
	diag "first differing rows:\n"
	  . $node->safe_psql($dbname // 'postgres',
		difference_sql($actual, $expected) . ' LIMIT 10')
	  unless $ok;
	return $ok;
}

sub views_equal_batches
{
	my ($node, $views, $stream, $table, $when) = @_;
	foreach my $name (sort keys %$views)
	{
		(my $batch = $views->{$name}) =~ s/\bFROM \Q$stream\E\b/FROM $table/;
		is_same_rows($node, $name, $batch, "$when: view $name equals its batch query");
	}
	return;
}

sub views_equal_definitions
{
	my ($node, $views, $when) = @_;
	$node->safe_psql('postgres', "SELECT continuous.sync('2 minutes')");
	foreach my $name (sort keys %$views)
	{
		is_same_rows($node, $name, $views->{$name}, "$when: $name equals its SELECT");
	}
	return;
}

sub is_emitted_once
{
	my ($node, $view, $window_column, $when) = @_;
	my $emitted = "continuous_storage.${view}_closed";
	is( $node->safe_psql('postgres',
			"SELECT count(*) = count(DISTINCT $window_column) FROM $emitted"),
		't', "$when: each closed window is in the emission table once");
	is_same_rows($node, $emitted, $view,
		"$when: the emission table holds ${view}'s closed windows");
	return;
}

1;
