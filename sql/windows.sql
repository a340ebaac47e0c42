--
-- Tumbling windows by event time.  A window [start, end) closes when the
-- stream's watermark reaches end + allowed_lateness.  A view with
-- emit = 'window_close' shows a window only once it has closed, with its
-- final values.  Every view with a window drops an event whose window had
-- already closed, and counts it in continuous.views.late_events.
--
CREATE EXTENSION pg_continuous;
SET TimeZone = 'UTC';

CREATE TABLE trades (symbol text, price numeric, ts timestamptz NOT NULL);
SELECT continuous.create_stream('trades', event_time => 'ts',
                                watermark_delay => '10 seconds');

-- the same 1-minute windows, as they change and once they are closed
CREATE VIEW trades_per_minute WITH (continuous) AS
    SELECT continuous.tumble(ts, '1 minute') AS minute,
           count(*) AS trades, sum(price) AS volume
    FROM trades GROUP BY 1;
CREATE VIEW closed_minutes WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute,
           count(*) AS trades, sum(price) AS volume
    FROM trades GROUP BY 1;
-- date_trunc() is a tumbling window too; this one waits a minute longer
CREATE VIEW closed_minutes_lenient
    WITH (continuous, emit = 'window_close', allowed_lateness = '1 minute') AS
    SELECT date_trunc('minute', ts) AS minute, count(*) AS trades
    FROM trades GROUP BY 1;
-- other window spellings
CREATE VIEW per_five_minutes WITH (continuous) AS
    SELECT date_bin('5 minutes', ts, '2026-01-01') AS five, count(*) AS trades
    FROM trades GROUP BY 1;
CREATE VIEW per_symbol WITH (continuous) AS
    SELECT symbol, count(*) AS trades FROM trades GROUP BY symbol;

SELECT view, emit, "window" FROM continuous.views ORDER BY view::text;

-- three trades of 12:00: the watermark is 12:00:45, no window has closed
INSERT INTO trades VALUES
    ('A', 10, '2026-03-01 12:00:05+00'),
    ('B', 20, '2026-03-01 12:00:30+00'),
    ('A', 11, '2026-03-01 12:00:55+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM trades_per_minute ORDER BY minute;
SELECT * FROM closed_minutes ORDER BY minute;

-- out of order, in one batch: 12:01:20 moves the watermark to 12:01:10,
-- which closes 12:00; 12:00:40 came in the same batch, so it is not late
INSERT INTO trades VALUES
    ('B', 21, '2026-03-01 12:01:20+00'),
    ('A', 12, '2026-03-01 12:00:40+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM trades_per_minute ORDER BY minute;
SELECT * FROM closed_minutes ORDER BY minute;
-- 12:00 plus a minute of lateness: open until the watermark reaches 12:02
SELECT * FROM closed_minutes_lenient ORDER BY minute;

-- a trade of 12:00:59 now is late: its window closed in the last batch.
-- Neither 1-minute view changes; the lenient view still takes it.
INSERT INTO trades VALUES ('A', 13, '2026-03-01 12:00:59+00');
SELECT continuous.sync();
SELECT * FROM trades_per_minute ORDER BY minute;
SELECT * FROM closed_minutes ORDER BY minute;
SELECT view, events, late_events FROM continuous.views ORDER BY view::text;

-- 12:02:15 moves the watermark to 12:02:05: 12:01 closes, and so does
-- 12:00 with a minute of lateness, holding the trade the others dropped
INSERT INTO trades VALUES ('B', 22, '2026-03-01 12:02:15+00');
SELECT continuous.sync();
SELECT watermark FROM continuous.streams;
SELECT * FROM closed_minutes ORDER BY minute;
SELECT * FROM closed_minutes_lenient ORDER BY minute;

-- now 12:00 is closed for every view: late everywhere, except for the
-- 5-minute window, which is open until 12:05, and the view without window
INSERT INTO trades VALUES ('A', 14, '2026-03-01 12:00:10+00');
SELECT continuous.sync();
SELECT * FROM closed_minutes_lenient ORDER BY minute;
SELECT * FROM per_five_minutes ORDER BY five;
SELECT * FROM per_symbol ORDER BY symbol;
SELECT view, events, late_events FROM continuous.views ORDER BY view::text;

-- a timestamp (without time zone) event time is UTC, like its watermark
CREATE TABLE meter_readings (value int, at timestamp NOT NULL);
SELECT continuous.create_stream('meter_readings', event_time => 'at');
CREATE VIEW hourly_readings WITH (continuous, emit = 'window_close') AS
    SELECT date_trunc('hour', at) AS hour, sum(value) AS total
    FROM meter_readings GROUP BY 1;
SET TimeZone = 'America/New_York';
INSERT INTO meter_readings VALUES (1, '2026-03-01 08:10:00'), (2, '2026-03-01 08:50:00');
SELECT continuous.sync();
SELECT * FROM hourly_readings;
INSERT INTO meter_readings VALUES (4, '2026-03-01 09:00:00');
SELECT continuous.sync();
SELECT * FROM hourly_readings;
RESET TimeZone;

-- what a window that closes needs
CREATE TABLE untimed (id int, ts timestamptz);
SELECT continuous.create_stream('untimed');
CREATE VIEW v WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute'), count(*) FROM untimed GROUP BY 1;
CREATE VIEW v WITH (continuous, emit = 'window_close') AS
    SELECT symbol, count(*) FROM trades GROUP BY symbol;
CREATE VIEW v WITH (continuous, allowed_lateness = '1 minute') AS
    SELECT symbol, count(*) FROM trades GROUP BY symbol;
CREATE VIEW v WITH (continuous, emit = 'window_close') AS
    SELECT date_trunc('month', ts), count(*) FROM trades GROUP BY 1;
-- the window must be over the event time, with a constant size
CREATE VIEW v WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(now(), '1 minute'), count(*) FROM trades GROUP BY 1;
-- a month-long window is still a fine key of a view that emits changes
CREATE VIEW per_month WITH (continuous) AS
    SELECT date_trunc('month', ts) AS month, count(*) AS trades FROM trades GROUP BY 1;
SELECT view, emit, "window" FROM continuous.views WHERE view = 'per_month'::regclass;

SET client_min_messages = warning;
DROP EXTENSION pg_continuous CASCADE;
DROP TABLE trades, meter_readings, untimed;
