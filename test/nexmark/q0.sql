-- q0, pass through: every bid, as it arrives (a continuous transform).
SELECT auction, bidder, price, date_time, extra FROM bid
