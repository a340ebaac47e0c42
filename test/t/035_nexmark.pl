# Copyright (c) pg_continuous contributors

# The Nexmark queries of test/nexmark/ (those continuous views express, as
# make bench-nexmark runs them), over events of the Nexmark generator
# loaded in transactions of 2,000 events by a session of its own, with a
# rolled-back transaction of events first and a kill -9 of the worker while
# they load: every query's view equals its SELECT run as batch SQL over the
# tables (test/nexmark/qN.batch.sql where the SELECT needs rewriting for
# batch SQL).  Each query file must be accepted: a query listed there that
# CREATE VIEW refuses fails the test.

use strict;
use warnings;

use File::Basename qw(basename dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::Crash;
use PgContinuous::Node;
use PgContinuous::Oracle;

my $dir    = dirname(__FILE__) . '/../nexmark';
my $events = 100_000;
my $chunk  = 2_000;

# a query file's SELECT: its lines but the comments
sub body
{
	my ($file) = @_;
	return join('', grep { !/^\s*--/ } split(/^/, slurp_file($file)));
}

my @queries = sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }
  map { basename($_, '.sql') } grep { !/\.batch\.sql$/ } glob("$dir/q*.sql");
ok(scalar @queries, 'there are Nexmark queries: ' . join(' ', @queries));

my $node = continuous_node('nexmark');
$node->safe_psql('postgres', 'CREATE EXTENSION pg_continuous');
$node->safe_psql('postgres', slurp_file("$dir/schema.sql"));
$node->safe_psql('postgres', slurp_file("$dir/generate.sql"));
$node->safe_psql('postgres', "SELECT nexmark_generate($events, 0.42)");
$node->safe_psql('postgres', 'CREATE TABLE loaded (upto bigint NOT NULL); INSERT INTO loaded VALUES (-1)');

foreach my $q (@queries)
{
	my ($ret, $out, $err) = $node->psql('postgres',
		"CREATE VIEW nexmark_$q WITH (continuous) AS " . body("$dir/$q.sql"));
	is($ret, 0, "$q: CREATE VIEW accepts it") or diag($err);
}

# events that roll back are never counted
$node->safe_psql('postgres', "BEGIN; SELECT nexmark_load(0, 4999); ROLLBACK;");

# Load from where the committed chunks end, a chunk a transaction, each
# recording how far it got.
sub start_loader
{
	my ($to) = @_;
	my ($out, $err) = ('', '');
	my $sql = qq{
DO \$\$
DECLARE
    lo bigint := (SELECT upto + 1 FROM loaded);
BEGIN
    WHILE lo < $to LOOP
        PERFORM nexmark_load(lo, lo + $chunk - 1);
        UPDATE loaded SET upto = lo + $chunk - 1;
        COMMIT;
        lo := lo + $chunk;
    END LOOP;
END
\$\$;
};
	return IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		  '-c', $sql ],
		'>', \$out, '2>', \$err);
}

my $loader = start_loader($events);
ok( poll_until($node, 'postgres', 'SELECT upto > 40000 FROM loaded'),
	'events loading');
kill9_worker_and_wait($node);
$loader->kill_kill;
$loader = start_loader($events);
$loader->finish;
is($node->safe_psql('postgres', 'SELECT upto + 1 FROM loaded'),
	$events, 'every event loaded once');
is( $node->safe_psql('postgres',
		'SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM auction) + (SELECT count(*) FROM bid)'),
	$events, '(and the streams hold exactly them)');

$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
foreach my $q (@queries)
{
	my $batch = -f "$dir/$q.batch.sql" ? "$dir/$q.batch.sql" : "$dir/$q.sql";
	is_same_rows($node, "nexmark_$q", body($batch),
		"$q: the view equals its batch query after a kill -9 of the worker");
	cmp_ok($node->safe_psql('postgres', "SELECT count(*) FROM nexmark_$q"),
		'>', 0, "$q: (it has rows)");
}

$node->stop;
done_testing();
