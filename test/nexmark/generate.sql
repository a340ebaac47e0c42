--
-- The Nexmark event generator, in SQL: nexmark_generate(events, seed)
-- fills three source tables with the first `events` events of a Nexmark
-- stream, numbered by eid (logged tables, so that they outlive the crashes
-- of the tests), and nexmark_load(first, last) appends
-- those with first <= eid <= last to the streams of schema.sql, in eid
-- order, in the calling transaction.  The benchmark (test/bench/nexmark.sh)
-- and the TAP test (test/t/035_nexmark.pl) load with it.
--
-- What it follows, from the Nexmark benchmark's generator (its Beam and
-- Flink versions, default configuration):
--   - of every 50 events, 1 is a person, 3 are auctions and 46 bids;
--   - event time advances 100 microseconds an event (10,000 events/s),
--     from 2026-01-01 00:00 UTC, and is carried in each row's date_time;
--   - person ids and auction ids start at 1000, and count up in event
--     order; categories are 10 to 14;
--   - an auction's seller, with probability 3/4, is a hot seller (the
--     first of the last 100 people), else one of the last 1,000 people
--     (plus 10 ids ahead of the last); an auction expires 1 ms to twice
--     the time of 100 auctions later;
--   - a bid, with probability 1/2, is for a hot auction (the first of the
--     last 100 auctions), else for one of the last 100 auctions (plus 10
--     ahead); with probability 3/4 by a hot bidder (the second of the last
--     100 people), else by one of the last 1,000;
--   - prices are 10^(6 u) * 100 cents for u uniform in [0, 1);
--   - half the bids come from one of four hot channels (Google, Facebook,
--     Baidu, Apple), the others from 'channel-N' with channel_id=N in
--     their URL, N < 10,000;
--   - strings are random, and each row has an `extra` that pads it to
--     the average sizes Nexmark uses: 200 bytes a person, 500 an auction,
--     100 a bid.
-- random() after setseed(seed) makes every run generate the same events.
--
CREATE FUNCTION nexmark_generate(events bigint, seed float8) RETURNS void
LANGUAGE plpgsql AS $generate$
BEGIN
    PERFORM setseed(seed);
    SET LOCAL max_parallel_workers_per_gather = 0;

    -- random text to cut strings from
    CREATE TEMP TABLE nexmark_pool AS
    SELECT string_agg(md5(i::text || random()::text), '') AS pool
      FROM generate_series(1, 40) i;

    DROP TABLE IF EXISTS nexmark_src_person, nexmark_src_auction, nexmark_src_bid;

    CREATE TABLE nexmark_src_person AS
    SELECT e * 50 AS eid,
           1000 + e AS id,
           (ARRAY['Peter', 'Paul', 'Luke', 'John', 'Saul', 'Vicky', 'Kate',
                  'Julie', 'Sarah', 'Deiter', 'Walter'])[1 + floor(random() * 11)::int]
             || ' ' ||
           (ARRAY['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton',
                  'Smith', 'Jones', 'Noris'])[1 + floor(random() * 9)::int] AS name,
           substr(pool, 1 + floor(random() * 1000)::int, 7) || '@' ||
             substr(pool, 1 + floor(random() * 1000)::int, 5) || '.com' AS email_address,
           concat_ws(' ', lpad(floor(random() * 10000)::int::text, 4, '0'),
                     lpad(floor(random() * 10000)::int::text, 4, '0'),
                     lpad(floor(random() * 10000)::int::text, 4, '0'),
                     lpad(floor(random() * 10000)::int::text, 4, '0')) AS credit_card,
           (ARRAY['Phoenix', 'Los Angeles', 'San Francisco', 'Boise', 'Portland',
                  'Bend', 'Redmond', 'Seattle', 'Kent', 'Cheyenne'])[1 + floor(random() * 10)::int] AS city,
           (ARRAY['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'])[1 + floor(random() * 6)::int] AS state,
           timestamptz '2026-01-01 00:00:00+00' + e * 50 * interval '100 microseconds' AS date_time,
           substr(pool, 1 + floor(random() * 1000)::int, 109 + floor(random() * 55)::int) AS extra
      FROM generate_series(0, (events - 1) / 50) e, nexmark_pool;

    CREATE TABLE nexmark_src_auction AS
    SELECT eid, id, item_name, description, initial_bid, initial_bid + more AS reserve,
           date_time, date_time + (1 + floor(random() * 333)) * interval '1 millisecond' AS expires,
           1000 + CASE WHEN floor(random() * 4) > 0 THEN (e / 100) * 100
                       ELSE e + 1 - least(e + 1, 1000) + floor(random() * (least(e + 1, 1000) + 10))::bigint
                  END AS seller,
           10 + floor(random() * 5)::bigint AS category,
           substr(pool, 1 + floor(random() * 1000)::int, 266 + floor(random() * 133)::int) AS extra
      FROM (SELECT e, e * 50 + 1 + k AS eid, 1000 + e * 3 + k AS id,
                   substr(pool, 1 + floor(random() * 1000)::int, 20) AS item_name,
                   substr(pool, 1 + floor(random() * 1000)::int, 100) AS description,
                   round(10 ^ (random() * 6) * 100)::bigint AS initial_bid,
                   round(10 ^ (random() * 6) * 100)::bigint AS more,
                   timestamptz '2026-01-01 00:00:00+00' + (e * 50 + 1 + k) * interval '100 microseconds' AS date_time,
                   pool
              FROM generate_series(0, (events - 1) / 50) e, generate_series(0, 2) k, nexmark_pool
             WHERE e * 50 + 1 + k < events) a;

    -- (a subquery with volatile outputs is not flattened: channel_no is
    -- drawn once a row however often the outer query names it)
    CREATE TABLE nexmark_src_bid AS
    SELECT eid, auction, bidder, price,
           CASE WHEN channel_no < 0
                THEN (ARRAY['Google', 'Facebook', 'Baidu', 'Apple'])[-channel_no]
                ELSE 'channel-' || channel_no END AS channel,
           url_base || CASE WHEN channel_no < 0 THEN ''
                            ELSE '&channel_id=' || channel_no END AS url,
           date_time, extra
      FROM (SELECT e * 50 + 4 + k AS eid,
                   1000 + CASE WHEN floor(random() * 2) > 0 THEN ((e * 3 + 2) / 100) * 100
                               ELSE greatest(e * 3 + 2 - 100, 0)
                                    + floor(random() * (e * 3 + 2 - greatest(e * 3 + 2 - 100, 0) + 11))::bigint
                          END AS auction,
                   1000 + CASE WHEN floor(random() * 4) > 0 THEN (e / 100) * 100 + 1
                               ELSE e + 1 - least(e + 1, 1000) + floor(random() * (least(e + 1, 1000) + 10))::bigint
                          END AS bidder,
                   round(10 ^ (random() * 6) * 100)::bigint AS price,
                   CASE WHEN random() < 0.5 THEN -1 - floor(random() * 4)::int
                        ELSE floor(random() * 10000)::int END AS channel_no,
                   'https://www.nexmark.com/' || substr(pool, 1 + floor(random() * 1000)::int, 5)
                     || '/' || substr(pool, 1 + floor(random() * 1000)::int, 5)
                     || '/' || substr(pool, 1 + floor(random() * 1000)::int, 5)
                     || '/item.htm?query=1' AS url_base,
                   timestamptz '2026-01-01 00:00:00+00' + (e * 50 + 4 + k) * interval '100 microseconds' AS date_time,
                   substr(pool, 1 + floor(random() * 1000)::int, 55 + floor(random() * 27)::int) AS extra
              FROM generate_series(0, (events - 1) / 50) e, generate_series(0, 45) k, nexmark_pool
             WHERE e * 50 + 4 + k < events) b;

    CREATE INDEX ON nexmark_src_person (eid);
    CREATE INDEX ON nexmark_src_auction (eid);
    CREATE INDEX ON nexmark_src_bid (eid);
    ANALYZE nexmark_src_person, nexmark_src_auction, nexmark_src_bid;
    DROP TABLE nexmark_pool;
END
$generate$;

-- (PL/pgSQL, so that it can be created before the streams it writes)
CREATE FUNCTION nexmark_load(first bigint, last bigint) RETURNS void
LANGUAGE plpgsql AS $load$
BEGIN
    INSERT INTO person
    SELECT id, name, email_address, credit_card, city, state, date_time, extra
      FROM nexmark_src_person WHERE eid BETWEEN first AND last ORDER BY eid;
    INSERT INTO auction
    SELECT id, item_name, description, initial_bid, reserve, date_time, expires,
           seller, category, extra
      FROM nexmark_src_auction WHERE eid BETWEEN first AND last ORDER BY eid;
    INSERT INTO bid
    SELECT auction, bidder, price, channel, url, date_time, extra
      FROM nexmark_src_bid WHERE eid BETWEEN first AND last ORDER BY eid;
END
$load$;
