# Copyright (c) pg_continuous contributors

# Kafka streams, per partition: the stream's watermark is the minimum of its
# partitions' (max event time - watermark_delay), leaving out partitions
# idle for longer than idle_timeout; and the formats and metadata columns
# the other Kafka test does not use (text payloads, message keys and
# timestamps).
#
# produce.c sends the n-th line of each run to partition n % partitions, so
# a run of one line always lands in partition 0.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use PgContinuous::MockKafka;
use PgContinuous::Oracle;
use PgContinuous::Node;

my $tempdir = PostgreSQL::Test::Utils::tempdir;

my $broker    = PgContinuous::MockKafka->start('clicks:2', 'lines:3', 'stamps:1', 'decimals:1');
my $bootstrap = $broker->bootstrap;
ok($bootstrap, "mock broker listens at $bootstrap");

# A principal without rights on consumer groups: the brokers refuse to say
# who coordinates a group (FindCoordinator, API key 10, answers
# GROUP_AUTHORIZATION_FAILED, 30).  The streams use no group, so nothing
# about it may show as a stream's error.
is($broker->command('errors 10 30 100000'), 'ok',
	'the brokers refuse every FindCoordinator request');

sub produce
{
	my ($topic, $lines, @options) = @_;
	my $file = "$tempdir/produce.txt";
	open(my $fh, '>', $file) or die $!;
	print $fh "$_\n" foreach @$lines;
	close($fh);
	my ($out, $err) = ('', '');
	IPC::Run::run([ PgContinuous::MockKafka->tool('produce'), '-b', $bootstrap, '-t', $topic, @options ],
		'<', $file, '>', \$out, '2>', \$err)
	  or diag $err;
	is($out, 'produced ' . scalar(@$lines) . "\n",
		"produced " . scalar(@$lines) . " to $topic");
}

# a zone with summer time, for timestamps written without a zone
my $node = continuous_node('kafka_partitions', "timezone = 'America/Santiago'\n");

# Two streams over the same topic: one waits for every partition, the other
# leaves a partition out after a second without messages.
$node->safe_psql('postgres', qq{
CREATE EXTENSION pg_continuous;
CREATE SERVER mock FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '$bootstrap', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE clicks (url text, ts timestamptz)
    SERVER mock OPTIONS (topic 'clicks', format 'csv', event_time 'ts',
                         watermark_delay '5 minutes', start_offset 'earliest');
CREATE FOREIGN TABLE clicks_idle (url text, ts timestamptz)
    SERVER mock OPTIONS (topic 'clicks', format 'csv', event_time 'ts',
                         watermark_delay '5 minutes', idle_timeout '1 second',
                         start_offset 'earliest');
CREATE VIEW clicks_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c
      FROM clicks GROUP BY minute;
CREATE VIEW clicks_idle_per_minute WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS c
      FROM clicks_idle GROUP BY minute;
SET TimeZone = 'UTC';
});

sub watermarks
{
	return $node->safe_psql('postgres',
		"SET TimeZone = 'UTC'; SELECT stream || ' ' || coalesce(watermark::text, '-') "
		  . "FROM continuous.streams ORDER BY stream::text");
}

# Partition 0 is at 10:00, partition 1 at 09:00: the watermark follows the
# slower one.
produce('clicks', [ '/a,2026-01-01 10:00:00+00', '/b,2026-01-01 09:00:00+00' ]);
$node->safe_psql('postgres', "SELECT continuous.sync()");
is( $node->safe_psql('postgres',
		"SET TimeZone = 'UTC'; SELECT string_agg(\"partition\" || ' ' || watermark, ', ' "
		  . "ORDER BY \"partition\") FROM continuous.kafka_partitions WHERE stream = 'clicks'::regclass"),
	'0 2026-01-01 09:55:00+00, 1 2026-01-01 08:55:00+00',
	'each partition has its own watermark');
like(watermarks(), qr/^clicks 2026-01-01 08:55:00\+00$/m,
	'the stream\'s watermark is the minimum over its partitions');

# Only partition 0 moves on.  The stream without idle_timeout waits for
# partition 1; the other leaves it out once it has been quiet for a second.
produce('clicks', ['/c,2026-01-01 11:00:00+00']);
$node->safe_psql('postgres', "SELECT continuous.sync()");
like(watermarks(), qr/^clicks 2026-01-01 08:55:00\+00$/m,
	'a quiet partition holds the watermark back without idle_timeout');
ok( poll_until($node, 'postgres',
		"SELECT watermark = '2026-01-01 10:55:00+00' FROM continuous.streams "
		  . "WHERE stream = 'clicks_idle'::regclass"),
	'with idle_timeout, the quiet partition is left out');
is( $node->safe_psql('postgres',
		"SET TimeZone = 'UTC'; SELECT string_agg(minute || '=' || c, ', ' ORDER BY minute) "
		  . "FROM clicks_idle_per_minute"),
	'2026-01-01 09:00:00+00=1, 2026-01-01 10:00:00+00=1',
	'windows the watermark passed are closed and shown');
is( $node->safe_psql('postgres', "SELECT sum(c) FROM clicks_per_minute"),
	'3', 'the view with changes shows every event');

# The quiet partition speaks again: it counts in the watermark again, which
# never goes back.
produce('clicks', [ '/d,2026-01-01 11:30:00+00', '/e,2026-01-01 11:10:00+00' ]);
$node->safe_psql('postgres', "SELECT continuous.sync()");
like(watermarks(), qr/^clicks 2026-01-01 11:05:00\+00$/m,
	'both partitions at 11:10 and later: the watermark follows');
# The stream that leaves a quiet partition out takes partition 1 back with
# its message.  Its watermark is then 11:05, or 11:25 when partition 0's
# message came in a fetch of its own while partition 1 was still quiet (a
# second is short on a loaded machine); never less than before.
is( $node->safe_psql('postgres',
		"SET TimeZone = 'UTC'; SELECT watermark FROM continuous.kafka_partitions "
		  . "WHERE stream = 'clicks_idle'::regclass AND \"partition\" = 1"),
	'2026-01-01 11:05:00+00',
	'the partition back from idleness has its watermark again');
like(watermarks(), qr/^clicks_idle 2026-01-01 11:(?:05|25):00\+00$/m,
	'the partition back from idleness counts again, and the watermark never goes back');

# --- text payloads, keys and message timestamps ---------------------------
$node->safe_psql('postgres', q{
CREATE FOREIGN TABLE lines (
    line text,
    k text OPTIONS (kafka_metadata 'key'),
    produced_at timestamptz OPTIONS (kafka_metadata 'timestamp'))
  SERVER mock OPTIONS (topic 'lines', format 'text', start_offset 'earliest');
CREATE VIEW lines_per_key WITH (continuous) AS
    SELECT k, count(*) AS c, max(line) AS last_line,
           count(produced_at) AS stamped,
           bool_and(produced_at > now() - interval '1 hour') AS recent
      FROM lines GROUP BY k;
});
produce('lines', [ 'apple,1 with, commas', 'pear,2', 'apple,3', 'fig,4 "quoted"' ],
	'-k', '1');
$node->safe_psql('postgres', "SELECT continuous.sync()");
is( $node->safe_psql('postgres',
		"SELECT string_agg(k || ' ' || c || ' ' || last_line || ' ' || stamped || ' ' || recent, E'\\n' ORDER BY k) "
		  . "FROM lines_per_key"),
	"apple 2 apple,3 2 true\nfig 1 fig,4 \"quoted\" 1 true\npear 1 pear,2 1 true",
	'format text: the whole message in one column, the key and timestamp from the message');

# Conversions of one string per message, into the $fields columns of
# stream $name (a text column s, then typed ones: "s,s,..."): the view
# $name_read must equal $batch over the valid strings, loaded into table
# $name_batch (s text), and the invalid ones must be dead letters.
sub compare_conversions
{
	my ($name, $fields, $valid, $invalid, $batch, $what) = @_;
	produce($name, [ map { join(',', ("\"$_\"") x $fields) } @$valid, @$invalid ]);
	$node->safe_psql('postgres',
		"INSERT INTO ${name}_batch VALUES " . join(',', map { "('$_')" } @$valid));
	$node->safe_psql('postgres', "SELECT continuous.sync()");
	is_same_rows($node, "${name}_read", $batch,
		scalar(@$valid) . " $what read as SQL casts them");
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM continuous.dead_letters WHERE stream = '$name'::regclass "
			  . 'AND "offset" >= ' . scalar(@$valid)),
		scalar(@$invalid),
		"invalid $what are dead letters");
}

# --- timestamps: the decoder's shortcut against the input functions --------
# Each message is one string three times: as text, timestamptz and
# timestamp.  The usual ISO 8601 forms take kafka_shortcuts.c's shortcut,
# the others PostgreSQL's input functions; either way the view must equal
# the casts of the same strings in SQL, and strings SQL refuses must be
# dead letters.
srand(11);
my @valid = (
	'2024-02-29 12:00:00Z',                   '2000-02-29T00:00:00+00',
	'1900-02-28 23:59:59.999999-15:59',       '0001-01-01 00:00:00+00',
	'9999-12-31 23:59:59.999999+15',          '2024-01-01 00:00:00.1234567+00',
	'2024-01-01T00:00:00.5',                  '2024-09-08 00:30:00',
	'2024-04-06 23:30:00',                    '2024-01-01 00:00:00 +00',
	'2024-01-01 00:00+00',                    '2024-01-01 00:00:00+0530',
	'2024-01-01 00:00:00-03:30',              'epoch',
	'2024-01-01 00:00:00 America/New_York',   'Mon Jan 01 00:00:00 2024 UTC');
for (1 .. 3000)
{
	my $year = int(rand(4)) ? 1990 + int(rand(50)) : 1 + int(rand(9999));
	my $month = 1 + int(rand(12));
	my $leap  = ($year % 4 == 0 && $year % 100 != 0) || $year % 400 == 0;
	my $days  = (31, $leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[ $month - 1 ];
	my $str   = sprintf('%04d-%02d-%02d%s%02d:%02d:%02d',
		$year, $month, 1 + int(rand($days)), rand() < 0.5 ? 'T' : ' ',
		int(rand(24)), int(rand(60)), int(rand(60)));
	my $digits = int(rand(9));
	$str .= '.' . join('', map { int(rand(10)) } 1 .. $digits) if $digits;
	my $zone = int(rand(6));
	my ($hh, $mm) = (int(rand(16)), (0, 30, 45, int(rand(60)))[ int(rand(4)) ]);
	my $sign = rand() < 0.5 ? '+' : '-';
	$str .=
	    $zone == 1 ? 'Z'
	  : $zone == 2 ? sprintf('%s%02d', $sign, $hh)
	  : $zone == 3 ? sprintf('%s%02d:%02d', $sign, $hh, $mm)
	  : $zone == 4 ? sprintf('%s%02d%02d', $sign, $hh, $mm)
	  :              '';
	push @valid, $str;
}
my @invalid = (
	'2023-02-29 00:00:00+00', '2024-13-01 00:00:00Z',
	'2024-01-01 24:00:01+00', '2024-01-01 00:00:00+16',
	'2024-01-01 00:60:00Z',   '2024-01-00 00:00:00Z');
$node->safe_psql('postgres', q{
CREATE FOREIGN TABLE stamps (s text, tz timestamptz, t timestamp)
  SERVER mock OPTIONS (topic 'stamps', format 'csv', start_offset 'earliest');
CREATE VIEW stamps_read WITH (continuous) AS
    SELECT s, tz, t, count(*) AS c FROM stamps GROUP BY s, tz, t;
CREATE TABLE stamps_batch (s text);
});
is($node->safe_psql('postgres', 'SHOW timezone'),
	'America/Santiago', 'SQL casts with the zone the worker uses');
compare_conversions('stamps', 3, \@valid, \@invalid,
	'SELECT s, s::timestamptz, s::timestamp, count(*) FROM stamps_batch GROUP BY 1, 2, 3',
	'timestamps');

# --- decimals: the same for numeric ---------------------------------------
# Each message is one string twice: as text and as numeric.  The view keeps
# the numeric's text too, so that the scale (trailing zeros) is compared.
my @decimals = (
	'0', '-0', '-0.00', '007.50', '1234.50', '999999999999999999',
	'-99999999.9999999999', '0.000000000000000001', '1234567890123456789',
	'1e5', '-1.5E-3', 'NaN', 'Infinity', '-Infinity', '+5', '.5', '5.', ' 5 ');
for (1 .. 2000)
{
	my $before = int(rand(12));
	my $after  = int(rand(10));
	my $str    = (rand() < 0.3 ? '-' : '') . join('', map { int(rand(10)) } 0 .. $before);
	$str .= '.' . join('', map { int(rand(10)) } 1 .. $after) if $after;
	push @decimals, $str;
}
my @not_decimals = ('abc', '1.2.3', '--1', '1,5');
$node->safe_psql('postgres', q{
CREATE FOREIGN TABLE decimals (s text, n numeric)
  SERVER mock OPTIONS (topic 'decimals', format 'csv', start_offset 'earliest');
CREATE VIEW decimals_read WITH (continuous) AS
    SELECT s, n, n::text AS shown, count(*) AS c FROM decimals GROUP BY s, n;
CREATE TABLE decimals_batch (s text);
});
compare_conversions('decimals', 2, \@decimals, \@not_decimals,
	'SELECT s, s::numeric, s::numeric::text, count(*) FROM decimals_batch GROUP BY 1, 2',
	'decimals');

# The group lookups failed all along, and no stream noticed.
unlike(slurp_file($node->logfile), qr/[Gg]roup authorization/,
	'no stream reported the refused group lookups');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM continuous.kafka_partitions WHERE last_error <> ''"),
	'0', 'no partition shows an error');

$node->stop;
$broker->stop;
done_testing();
