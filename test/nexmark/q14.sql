-- q14, calculation: a projection and filter with a CASE over the hour of
-- the bid and a count of the letter c in its extra (Flink's count_char
-- user-defined function is length(extra) - length(replace(extra, 'c', ''))).
SELECT auction,
       bidder,
       0.908 * price AS price,
       CASE WHEN extract(hour FROM date_time AT TIME ZONE 'UTC') BETWEEN 8 AND 18 THEN 'dayTime'
            WHEN extract(hour FROM date_time AT TIME ZONE 'UTC') <= 6
              OR extract(hour FROM date_time AT TIME ZONE 'UTC') >= 20 THEN 'nightTime'
            ELSE 'otherTime' END AS bid_time_type,
       date_time,
       extra,
       length(extra) - length(replace(extra, 'c', '')) AS c_counts
  FROM bid
 WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000
