-- q5, hot items: which auctions have seen the most bids in the last period?
-- Nexmark counts the bids of each auction in 10-second windows sliding by
-- 2 seconds, and keeps the auctions with the top count of each window.
-- The counts are the continuous view; the top of each window is a plain
-- query over it when reading, which is where PostgreSQL applies what a
-- continuous view does not keep:
--   SELECT auction, num FROM nexmark_q5 c
--    WHERE num >= (SELECT max(num) FROM nexmark_q5 m WHERE m.starttime = c.starttime);
SELECT auction,
       count(*) AS num,
       w.window_start AS starttime,
       w.window_start + interval '10 seconds' AS endtime
  FROM bid CROSS JOIN LATERAL continuous.hop(date_time, '10 seconds', '2 seconds') AS w(window_start)
 GROUP BY auction, w.window_start
