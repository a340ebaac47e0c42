-- q11 as batch SQL: continuous.session() works only in continuous views,
-- so the sessions are numbered by hand: a bid begins a session when the
-- same bidder's previous bid is 10 seconds or more before it.
WITH marked AS (
    SELECT bidder, date_time,
           CASE WHEN date_time - lag(date_time) OVER (PARTITION BY bidder ORDER BY date_time)
                     < interval '10 seconds' THEN 0 ELSE 1 END AS begins
      FROM bid
), numbered AS (
    SELECT bidder, date_time,
           sum(begins) OVER (PARTITION BY bidder ORDER BY date_time
                             ROWS UNBOUNDED PRECEDING) AS session
      FROM marked
)
SELECT bidder, count(*), min(date_time), max(date_time) + interval '10 seconds'
  FROM numbered
 GROUP BY bidder, session
