-- q2, selection: the bids on some auctions, with their price.
SELECT auction, price FROM bid WHERE auction % 123 = 0
