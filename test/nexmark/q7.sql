-- q7, highest bid: the highest price of each 10-second window.
-- Nexmark then joins each window's maximum back to the bids of the window
-- to return the winning bids; that join of a stream to a view's closed
-- windows needs views over views and stream-stream joins, so only the
-- per-window maximum is continuous here.
SELECT continuous.tumble(date_time, '10 seconds') AS window_start,
       max(price) AS maxprice
  FROM bid
 GROUP BY 1
