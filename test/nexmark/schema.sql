--
-- Nexmark's three streams as pg_continuous table streams: the people,
-- auctions and bids of an online auction site, each carrying its event
-- time in date_time.  The columns are those of the Nexmark benchmark's
-- Flink and RisingWave versions, in snake_case.  Loaded by generate.sql's
-- nexmark_load(); read by the queries q*.sql.
--
CREATE TABLE person (
    id            bigint NOT NULL,
    name          text,
    email_address text,
    credit_card   text,
    city          text,
    state         text,
    date_time     timestamptz NOT NULL,
    extra         text
);
CREATE TABLE auction (
    id            bigint NOT NULL,
    item_name     text,
    description   text,
    initial_bid   bigint,
    reserve       bigint,
    date_time     timestamptz NOT NULL,
    expires       timestamptz,
    seller        bigint,
    category      bigint,
    extra         text
);
CREATE TABLE bid (
    auction       bigint NOT NULL,
    bidder        bigint NOT NULL,
    price         bigint NOT NULL,
    channel       text,
    url           text,
    date_time     timestamptz NOT NULL,
    extra         text
);
SELECT continuous.create_stream('person', event_time => 'date_time');
SELECT continuous.create_stream('auction', event_time => 'date_time');
SELECT continuous.create_stream('bid', event_time => 'date_time');

-- q13's bounded side input: a value for each auction id modulo 10,000
CREATE TABLE side_input (key bigint PRIMARY KEY, value text NOT NULL);
INSERT INTO side_input SELECT k, 'side-' || k FROM generate_series(0, 9999) k;
