/*
 * pg_continuous 0.1: the SQL surface and the extension's own catalog.
 *
 * Catalog tables (stream_catalog, view_catalog) are written by DDL only; the
 * per-database worker reads them and notices their changes in the WAL it
 * decodes, so a stream or view begins exactly after the transaction that
 * created it commits.  Statistics and the decoder position are written by the
 * worker, in the same transaction as the view state they describe.
 */

\echo Use "CREATE EXTENSION pg_continuous" to load this file. \quit

-- Storage tables of continuous views live here, one per view, named after it.
CREATE SCHEMA continuous_storage;
GRANT USAGE ON SCHEMA continuous_storage TO PUBLIC;
GRANT USAGE ON SCHEMA continuous TO PUBLIC;

/* ------------------------------------------------------------------------
 * Catalog (DDL writes, the worker reads)
 * ------------------------------------------------------------------------ */

CREATE TABLE continuous.stream_catalog (
    stream          oid PRIMARY KEY,        -- pg_class oid of the stream table
    kind            text NOT NULL DEFAULT 'table' CHECK (kind IN ('table', 'kafka')),
    event_time      name,                   -- timestamptz/timestamp column, or NULL;
                                            -- renames follow it (stream_guard.c)
    watermark_delay interval NOT NULL DEFAULT '0',
    idle_timeout    interval,
    -- an event whose event time is further ahead of the clock is a dead letter
    max_future      interval NOT NULL DEFAULT '1 day',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE continuous.view_catalog (
    view             oid PRIMARY KEY,       -- pg_class oid of the user-facing view
    stream           oid NOT NULL,          -- stream the view reads
    storage          oid NOT NULL,          -- its storage table in continuous_storage
    query            text NOT NULL,         -- nodeToString() of the analysed SELECT
    definition       text NOT NULL,         -- the SELECT as the user wrote it
    emit             text NOT NULL DEFAULT 'changes'
                     CHECK (emit IN ('changes', 'window_close')),
    allowed_lateness interval NOT NULL DEFAULT '0',
    late_events      text NOT NULL DEFAULT 'drop',   -- or the table's name
    late_table       oid,                   -- the late-events table, if any
    retention        interval,
    "window"         text,                  -- e.g. 'tumble 00:01:00', or NULL
    -- the creating session's search_path: the view's expressions (its
    -- owner's functions) run with it in the worker
    search_path      text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now()
);

/* ------------------------------------------------------------------------
 * Worker-maintained state (written in flush transactions)
 * ------------------------------------------------------------------------ */

-- Position of the table-stream decoder: every transaction that committed
-- before this LSN is reflected in every view's storage.  One row.
CREATE TABLE continuous.decoder_position (
    lsn pg_lsn NOT NULL
);
INSERT INTO continuous.decoder_position VALUES ('0/0');

CREATE TABLE continuous.stream_stats (
    stream          oid PRIMARY KEY,
    events          bigint NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    ignored_changes bigint NOT NULL DEFAULT 0,
    errors          bigint NOT NULL DEFAULT 0,
    last_event_at   timestamptz,
    watermark       timestamptz,
    last_error      text,                   -- Kafka: the consumer's error state
    -- Kafka: its consumer could not be created (last_error says why); the
    -- stream is not consumed until its options change
    consumer_failed boolean NOT NULL DEFAULT false
);

-- Kafka streams: where each partition's next message is, and its event
-- time, as of the state in storage.  Written by the flush that wrote that
-- state; a new partition's start is written before it is consumed.
CREATE TABLE continuous.kafka_offsets (
    stream          oid NOT NULL,
    "partition"     int NOT NULL,
    next_offset     bigint NOT NULL,
    max_event_time  timestamptz,            -- latest event time seen
    high_watermark  bigint,                 -- the broker's, when last heard
    -- when the partition last delivered (or was assigned): other workers
    -- leave it out of the watermark once it is idle for idle_timeout
    active_at       timestamptz,
    worker          int,                    -- which consumes it (1 ..)
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, "partition")
);

CREATE TABLE continuous.view_stats (
    view          oid PRIMARY KEY,
    -- the view counts transactions that commit at or after this position:
    -- those after the one that created it
    active_from   pg_lsn,
    events        bigint NOT NULL DEFAULT 0,
    late_events   bigint NOT NULL DEFAULT 0,
    errors        bigint NOT NULL DEFAULT 0,
    -- groups of the last batch with events: held in the worker's memory
    -- until that flush wrote them to storage
    groups_in_memory bigint NOT NULL DEFAULT 0,
    last_flush_at timestamptz,
    flush_ms      float8,
    latency_ms    float8,
    -- 'failed': processing the view failed by its own fault (last_error);
    -- the worker no longer maintains it (src/quarantine.c)
    status        text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'failed')),
    last_error    text,
    failed_at     timestamptz
);

CREATE TABLE continuous.dead_letters (
    id       bigserial PRIMARY KEY,
    stream   regclass,
    view     regclass,
    position text NOT NULL,                 -- commit LSN, or partition and offset
    payload  text,
    error    text NOT NULL,
    at       timestamptz NOT NULL DEFAULT now(),
    "partition" int,                        -- Kafka streams: where the message is
    "offset"    bigint
);
-- Dead letters hold events: a role sees those of the streams it may read,
-- and the owners of the stream and of the view (if any) may delete them.
-- The worker writes them as the extension's owner, which RLS leaves alone.
ALTER TABLE continuous.dead_letters ENABLE ROW LEVEL SECURITY;
CREATE POLICY dead_letters_read ON continuous.dead_letters FOR SELECT
    USING (coalesce(pg_catalog.has_table_privilege(stream, 'SELECT'), false));
CREATE POLICY dead_letters_manage ON continuous.dead_letters FOR DELETE
    USING (EXISTS (SELECT FROM pg_catalog.pg_class c
                    WHERE (c.oid OPERATOR(pg_catalog.=) stream
                           OR c.oid OPERATOR(pg_catalog.=) view)
                      AND pg_catalog.pg_has_role(c.relowner, 'USAGE')));
GRANT SELECT, DELETE ON continuous.dead_letters TO PUBLIC;

/* ------------------------------------------------------------------------
 * Functions implemented in C
 * ------------------------------------------------------------------------ */

CREATE FUNCTION continuous.sync(timeout interval DEFAULT '1 minute')
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_sync'
LANGUAGE C STRICT;
COMMENT ON FUNCTION continuous.sync(interval) IS
    'wait until every event committed before the call is visible in every continuous view';

-- Final value of an aggregate from the transition state kept in storage;
-- the views over storage tables call it.  "result" only carries the type.
CREATE FUNCTION continuous.finalize(aggregate oid, state "any", result anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'continuous_finalize'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION continuous.tumble(ts timestamptz, size interval,
                                  origin timestamptz DEFAULT '2000-01-01 00:00:00+00')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'continuous_tumble_timestamptz'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION continuous.tumble(ts timestamp, size interval,
                                  origin timestamp DEFAULT '2000-01-01 00:00:00')
RETURNS timestamp
AS 'MODULE_PATHNAME', 'continuous_tumble_timestamp'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A session window's start, as a group key of a continuous view.  Outside
-- one it raises an error: a session's start depends on other events.
CREATE FUNCTION continuous.session(ts timestamptz, gap interval)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'continuous_session'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION continuous.session(ts timestamp, gap interval)
RETURNS timestamp
AS 'MODULE_PATHNAME', 'continuous_session'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- Hopping windows: the start of every window of length size, one beginning
-- every slide from origin, that contains ts (oldest first).  Continuous views
-- use it in FROM: stream CROSS JOIN LATERAL continuous.hop(ts, ...) AS w.
CREATE FUNCTION continuous.hop(ts timestamptz, size interval, slide interval,
                               origin timestamptz DEFAULT '2000-01-01 00:00:00+00',
                               OUT window_start timestamptz)
RETURNS SETOF timestamptz
AS 'MODULE_PATHNAME', 'continuous_hop'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;

CREATE FUNCTION continuous.hop(ts timestamp, size interval, slide interval,
                               origin timestamp DEFAULT '2000-01-01 00:00:00',
                               OUT window_start timestamp)
RETURNS SETOF timestamp
AS 'MODULE_PATHNAME', 'continuous_hop'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE ROWS 10;

-- Count windows: GROUP BY key, continuous.count_window(n) numbers each key's
-- consecutive runs of n events in delivery order.  Only a continuous view's
-- worker knows that order; called anywhere else, the function raises an
-- error showing the batch equivalent with row_number().
CREATE FUNCTION continuous.count_window(size bigint)
RETURNS bigint
AS 'MODULE_PATHNAME', 'continuous_count_window'
LANGUAGE C VOLATILE STRICT;

-- Not SECURITY DEFINER: the C code checks that the caller owns the table,
-- and writes the catalog with the catalog owner's rights (ddl_catalog.c).
CREATE FUNCTION continuous.create_stream(stream regclass,
                                         event_time name DEFAULT NULL,
                                         watermark_delay interval DEFAULT '0',
                                         max_future interval DEFAULT '1 day')
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_create_stream'
LANGUAGE C;

CREATE FUNCTION continuous.drop_stream(stream regclass, cascade boolean DEFAULT false)
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_drop_stream'
LANGUAGE C;

-- The watermark of a stream, for the views of emit = 'window_close': they
-- show a window once the watermark has passed its end.  SECURITY DEFINER so
-- that readers of those views need no rights on stream_stats; the worker
-- writes the watermark in the transaction that writes the windows' state.
CREATE FUNCTION continuous._watermark(stream regclass)
RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog
AS $$ SELECT watermark FROM continuous.stream_stats WHERE stream = $1::oid $$;

-- Bytes of WAL the database's decoder has not yet applied.
CREATE FUNCTION continuous._decoder_lag()
RETURNS bigint
AS 'MODULE_PATHNAME', 'continuous_decoder_lag'
LANGUAGE C STABLE;

-- Called once below: asks the launcher to start this database's worker when
-- the CREATE EXTENSION transaction commits.
CREATE FUNCTION continuous._start_worker()
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_start_worker'
LANGUAGE C;

/* ------------------------------------------------------------------------
 * Cleanup when streams, views or their tables are dropped
 * ------------------------------------------------------------------------ */

CREATE FUNCTION continuous._on_sql_drop()
RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    DELETE FROM continuous.view_catalog v
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND (v.view = d.objid OR v.stream = d.objid);
    DELETE FROM continuous.stream_catalog s
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND s.stream = d.objid;
    DELETE FROM continuous.view_stats s
     WHERE NOT EXISTS (SELECT 1 FROM continuous.view_catalog v WHERE v.view = s.view);
    -- a Kafka stream lives as long as its views: a new first view starts
    -- again at the foreign table's start_offset
    DELETE FROM continuous.stream_catalog c
     WHERE c.kind = 'kafka'
       AND NOT EXISTS (SELECT 1 FROM continuous.view_catalog v WHERE v.stream = c.stream);
    DELETE FROM continuous.stream_stats s
     WHERE NOT EXISTS (SELECT 1 FROM continuous.stream_catalog c WHERE c.stream = s.stream);
    DELETE FROM continuous.kafka_offsets o
     WHERE NOT EXISTS (SELECT 1 FROM continuous.stream_catalog c WHERE c.stream = o.stream);
END
$$;

CREATE EVENT TRIGGER continuous_on_sql_drop ON sql_drop
    EXECUTE FUNCTION continuous._on_sql_drop();

/* ------------------------------------------------------------------------
 * Monitoring views
 * ------------------------------------------------------------------------ */

CREATE VIEW continuous.streams AS
SELECT c.stream::regclass               AS stream,
       c.kind,
       c.event_time,
       s.watermark,
       coalesce(s.events, 0)            AS events,
       coalesce(s.bytes, 0)             AS bytes,
       -- table streams: bytes of flushed WAL the worker has not applied yet
       CASE WHEN c.kind = 'table' THEN continuous._decoder_lag() END AS lag_bytes,
       -- Kafka streams: messages behind the brokers' high watermarks
       CASE WHEN c.kind = 'kafka'
            THEN (SELECT coalesce(sum(greatest(o.high_watermark - o.next_offset, 0)), 0)::bigint
                    FROM continuous.kafka_offsets o WHERE o.stream = c.stream)
       END                              AS lag_messages,
       coalesce(s.ignored_changes, 0)   AS ignored_changes,
       coalesce(s.errors, 0)            AS errors,
       s.last_event_at,
       s.last_error,
       -- table streams: bytes of WAL the database's replication slot keeps,
       -- which max_slot_wal_keep_size bounds (decoder.c names it
       -- continuous_<database oid>)
       CASE WHEN c.kind = 'table'
            THEN (SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),
                                                    r.restart_lsn)::bigint
                    FROM pg_catalog.pg_replication_slots r
                   WHERE r.slot_name = 'continuous_' || r.datoid
                     AND r.datoid = (SELECT d.oid FROM pg_catalog.pg_database d
                                      WHERE d.datname = pg_catalog.current_database())
                     AND NOT pg_catalog.pg_is_in_recovery())
       END                              AS wal_retained
  FROM continuous.stream_catalog c
  LEFT JOIN continuous.stream_stats s USING (stream);

CREATE VIEW continuous.views AS
SELECT c.view::regclass                 AS view,
       c.stream::regclass               AS stream,
       c.emit,
       c."window",
       coalesce(s.status, 'active')     AS status,
       -- it may quote an event: for those who may read the view
       CASE WHEN pg_catalog.has_table_privilege(c.view, 'SELECT')
            THEN s.last_error END       AS last_error,
       coalesce(s.events, 0)            AS events,
       coalesce(s.late_events, 0)       AS late_events,
       coalesce(s.groups_in_memory, 0)  AS groups_in_memory,
       coalesce(s.errors, 0)            AS errors,
       pg_total_relation_size(c.storage) AS state_bytes,
       s.last_flush_at,
       s.flush_ms,
       s.latency_ms                     AS processing_latency_ms,
       c.storage::regclass              AS storage,
       c.definition,
       c.late_table::regclass           AS late_events_table,
       c.retention
  FROM continuous.view_catalog c
  LEFT JOIN continuous.view_stats s USING (view);

GRANT SELECT ON continuous.streams, continuous.views TO PUBLIC;

SELECT continuous._start_worker();

/* ------------------------------------------------------------------------
 * Kafka streams
 *
 * A Kafka stream is a foreign table of wrapper continuous_kafka: brokers
 * and librdkafka settings on the server, credentials in user mappings,
 * topic and format on the table (src/kafka_options.c).  The wrapper only
 * validates options; reading the table directly is refused, continuous
 * views read it through the worker's consumer.
 * ------------------------------------------------------------------------ */

CREATE FUNCTION continuous.kafka_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME', 'continuous_kafka_handler'
LANGUAGE C STRICT;

CREATE FUNCTION continuous.kafka_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'continuous_kafka_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER continuous_kafka
    HANDLER continuous.kafka_fdw_handler
    VALIDATOR continuous.kafka_fdw_validator;

-- One row per partition of every Kafka stream, as of the last flush.
CREATE VIEW continuous.kafka_partitions AS
SELECT o.stream::regclass               AS stream,
       (SELECT option_value FROM pg_catalog.pg_options_to_table(f.ftoptions)
         WHERE option_name = 'topic')   AS topic,
       o."partition",
       o.next_offset                    AS committed_offset,
       o.high_watermark,
       greatest(o.high_watermark - o.next_offset, 0) AS lag,
       o.max_event_time - c.watermark_delay AS watermark,
       s.last_error,
       o.updated_at,
       o.worker
  FROM continuous.kafka_offsets o
  JOIN continuous.stream_catalog c USING (stream)
  LEFT JOIN continuous.stream_stats s USING (stream)
  LEFT JOIN pg_catalog.pg_foreign_table f ON f.ftrelid = o.stream;

GRANT SELECT ON continuous.kafka_partitions TO PUBLIC;
