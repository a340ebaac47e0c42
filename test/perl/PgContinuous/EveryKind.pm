# Copyright (c) pg_continuous contributors

# PgContinuous::EveryKind: continuous views of every kind over one table
# stream, the events to feed them and the batch oracle of each, for the
# tests that carry views through an upgrade (023_update_paths.pl,
# 024_pg_upgrade.pl).
#
#   create_every_kind($node [, transforms => 1])
#       the stream events (k bigint, v int, user_id int, region text, ts
#       timestamptz) and the views: tumbling windows with emit = 'changes'
#       and emit = 'window_close' (with a late-events table), hopping,
#       session and count windows, GROUP BY with WHERE and HAVING, a group
#       key that is not selected (region), no GROUP BY, and one over hll's
#       aggregate when hll is installed; with transforms => 1, also
#       continuous transforms (views without aggregates, which 0.1 does not
#       have: the update-path test leaves them out).  Returns the names of
#       the views.
#   load_events_sql($n [, $region_column])
#       SQL that commits the next $n events in transactions of 1,000, in
#       event-time order (none is late): one every 100 ms; each user has a
#       run of 1,000 events, then 400 seconds without.
#   resume_events($node [, $region_column])
#       after a crash cut a load short: the next event is the one after the
#       last committed.
#   check_every_kind($node, $when [, $region_column])
#       continuous.sync(), then each view against its batch query over the
#       events, and no view failed.  $region_column: what the stream's
#       region column is called now (a rename is followed).

package PgContinuous::EveryKind;

use strict;
use warnings;

use Exporter 'import';
use Test::More;
use PgContinuous::Oracle;

our @EXPORT = qw(create_every_kind load_events_sql resume_events check_every_kind
  check_every_kind_views);

# view => [options, defining SELECT, batch query if not the SELECT itself]
my %views = (
	per_minute => [
		'', q{SELECT continuous.tumble(ts, '1 minute') AS minute,
		             count(*) AS c, sum(v) AS s
		        FROM events GROUP BY minute}
	],
	closed_minutes => [
		", emit = 'window_close', late_events = 'late_events'",
		q{SELECT continuous.tumble(ts, '1 minute') AS minute,
		         count(*) AS c, sum(v) AS s
		    FROM events GROUP BY minute},
		q{SELECT * FROM (SELECT continuous.tumble(ts, '1 minute') AS minute,
		                        count(*) AS c, sum(v) AS s
		                   FROM events GROUP BY minute) b
		   WHERE minute + interval '1 minute' <= continuous._watermark('events')}
	],
	hops => [
		'', q{SELECT w.window_start, count(*) AS c, sum(v) AS s
		        FROM events CROSS JOIN LATERAL continuous.hop(ts, '10 minutes', '2 minutes') AS w
		       GROUP BY w.window_start}
	],
	sessions => [
		'', q{SELECT user_id, continuous.session(ts, '30 seconds') AS session_start,
		             count(*) AS c, sum(v) AS s
		        FROM events GROUP BY user_id, session_start},
		# a session begins where the user's previous event is at least the
		# gap before (sql/session_windows.sql)
		q{WITH marked AS (
		      SELECT user_id, v, ts,
		             CASE WHEN ts - lag(ts) OVER w < '30 seconds' THEN 0 ELSE 1 END AS begins
		        FROM events WINDOW w AS (PARTITION BY user_id ORDER BY ts)
		  ), numbered AS (
		      SELECT user_id, v, ts,
		             sum(begins) OVER (PARTITION BY user_id ORDER BY ts
		                               ROWS UNBOUNDED PRECEDING) AS n
		        FROM marked
		  )
		  SELECT user_id, min(ts) AS session_start, count(*) AS c, sum(v) AS s
		    FROM numbered GROUP BY user_id, n}
	],
	hundreds => [
		'', q{SELECT k % 7 AS key, continuous.count_window(100) AS run, count(*) AS c
		        FROM events GROUP BY key, run},
		# each key's runs of 100 events, all full but the last
		q{SELECT key, run, least(100, n - run * 100) AS c
		    FROM (SELECT k % 7 AS key, count(*) AS n FROM events GROUP BY 1) t,
		         generate_series(0, (n - 1) / 100) AS run}
	],
	per_user => [
		'', q{SELECT user_id, count(*) AS c, sum(v) AS s, avg(v) AS a
		        FROM events WHERE v % 3 <> 0 GROUP BY user_id HAVING count(*) > 1}
	],
	per_region => [ '', q{SELECT sum(v) AS s, max(ts) AS last FROM events GROUP BY region} ],
	totals     => [ '', q{SELECT count(*) AS c, sum(k) AS sk FROM events} ],
	users_per_region => [
		'', q{SELECT region, hll_add_agg(hll_hash_integer(user_id)) AS users
		        FROM events GROUP BY region},
		# hll values compare by what they estimate
		q{SELECT region, hll_cardinality(hll_add_agg(hll_hash_integer(user_id)))
		    FROM events GROUP BY region},
		'SELECT region, hll_cardinality(users) FROM users_per_region'
	]);

# Views without aggregates, created only when asked for (create_every_kind).
my %transforms = (
	kept_events => [
		'', q{SELECT k, v * 2 AS v2, upper(region) AS region, ts
		        FROM events WHERE v % 2 = 0}
	],
	hopped_events => [
		'', q{SELECT w.window_start, k, user_id
		        FROM events CROSS JOIN LATERAL continuous.hop(ts, '1 minute', '30 seconds') AS w
		       WHERE k % 10 = 0}
	]);

my $next_k = 0;
my $hll;
my $with_transforms = 0;

sub create_every_kind
{
	my ($node, %options) = @_;
	$with_transforms = $options{transforms} ? 1 : 0;
	$hll = $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_available_extensions WHERE name = 'hll'") eq '1';
	note('hll is not installed: no view over its aggregates') unless $hll;
	$next_k = 0;
	$node->safe_psql('postgres', q{
CREATE TABLE events (k bigint, v int, user_id int, region text, ts timestamptz NOT NULL);
SELECT continuous.create_stream('events', event_time => 'ts');
});
	$node->safe_psql('postgres', 'CREATE EXTENSION hll') if $hll;
	foreach my $name (view_names())
	{
		my $view = view_definition($name);
		$node->safe_psql('postgres',
			"CREATE VIEW $name WITH (continuous$view->[0]) AS $view->[1]");
	}
	return view_names();
}

sub view_names
{
	return sort((grep { $hll || $_ ne 'users_per_region' } keys %views),
		($with_transforms ? keys %transforms : ()));
}

sub view_definition
{
	my ($name) = @_;
	return $views{$name} // $transforms{$name};
}

sub load_events_sql
{
	my ($n, $region) = @_;
	$region //= 'region';
	my $from = $next_k;
	$next_k += $n;
	return '' if $n <= 0;
	return qq{
DO \$\$
BEGIN
    FOR b IN 0 .. $n / 1000 - 1 LOOP
        INSERT INTO events (k, v, user_id, $region, ts)
        SELECT k, (k % 13)::int, ((k / 1000) % 5)::int, 'region ' || (k % 4),
               timestamptz '2026-01-01 00:00:00+00' + k * interval '100 ms'
          FROM generate_series($from + b * 1000, $from + b * 1000 + 999) k;
        COMMIT;
    END LOOP;
END
\$\$;
};
}

sub resume_events
{
	my ($node, $region) = @_;
	my $target = $next_k;
	$next_k = $node->safe_psql('postgres', 'SELECT coalesce(max(k) + 1, 0) FROM events');
	$node->safe_psql('postgres', load_events_sql($target - $next_k, $region))
	  if $target > $next_k;
	return;
}

# every view equals its batch query, and none failed
sub check_every_kind
{
	my ($node, $when, $region) = @_;
	check_every_kind_views($node, $when, $region);
	is( $node->safe_psql('postgres',
			"SELECT count(*) FROM continuous.views WHERE status <> 'active'"),
		'0', "$when: no view failed");
	return;
}

# every view equals its batch query (another view may have failed)
sub check_every_kind_views
{
	my ($node, $when, $region) = @_;
	$region //= 'region';
	$node->safe_psql('postgres', "SELECT continuous.sync('5 minutes')");
	foreach my $name (view_names())
	{
		my ($options, $select, $batch, $actual) = @{ view_definition($name) };
		$batch //= $select;
		$batch =~ s/\bregion\b/$region/g;
		is_same_rows($node, $actual // $name, $batch,
			"$when: view $name equals its batch query");
	}
	return;
}

1;
