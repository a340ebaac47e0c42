-- q13, bounded side input join: each bid with the value of its auction id
-- modulo 10,000 in a table (Flink joins FOR SYSTEM_TIME AS OF the bid's
-- processing time; a lookup join does that).
SELECT b.auction, b.bidder, b.price, b.date_time, s.value
  FROM bid b JOIN side_input s ON s.key = b.auction % 10000
