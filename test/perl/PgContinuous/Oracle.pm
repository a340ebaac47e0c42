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
#
# $actual and $expected are queries ("TABLE v" or "SELECT ...") or view
# names; floating-point columns need exact sums (integers or numeric).

package PgContinuous::Oracle;

use strict;
use warnings;

use Exporter 'import';
use Test::More;

our @EXPORT = qw(rows_differ is_same_rows views_equal_batches);

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

1;
