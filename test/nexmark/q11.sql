-- q11, user sessions: how many bids did a user make in each session, a
-- session ending after 10 seconds without a bid (Flink's SESSION window;
-- SESSION_START is the session's value, SESSION_END its last bid + gap).
SELECT bidder,
       count(*) AS bid_count,
       continuous.session(date_time, '10 seconds') AS starttime,
       max(date_time) + interval '10 seconds' AS endtime
  FROM bid
 GROUP BY bidder, starttime
