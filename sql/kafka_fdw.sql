--
-- Kafka streams, as far as they go without a broker: the continuous_kafka
-- foreign-data wrapper's options (what is accepted, what is refused and
-- with which message), who may read credentials, and the refusal to read
-- a Kafka stream directly.
--
CREATE EXTENSION pg_continuous;

SELECT fdwname, fdwhandler::regproc, fdwvalidator::regproc, fdwoptions
  FROM pg_foreign_data_wrapper WHERE fdwname = 'continuous_kafka';

-- the wrapper itself takes no options
ALTER FOREIGN DATA WRAPPER continuous_kafka OPTIONS (brokers 'localhost:9092');

--
-- Servers
--

-- brokers is required, and not empty
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka;
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka OPTIONS (brokers '');
-- options of other contexts, and unknown ones, list what is valid
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', topic 'orders');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', host 'localhost');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', password 'secret');
-- librdkafka settings: librdkafka checks name and value
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka." '1');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.no.such.setting" '1');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.fetch.wait.max.ms" 'soon');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.security.protocol" 'carrier_pigeon');
-- what has an option of its own is set through it
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.bootstrap.servers" 'localhost:9093');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.sasl.username" 'alice');
-- every user can read a server's options: secrets belong in user mappings
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.ssl.key.password" 'secret');
CREATE SERVER kafka_bad FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers 'localhost:9092', "kafka.sasl.oauthbearer.client.secret" 'secret');

CREATE SERVER kafka_local FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9092', "kafka.fetch.wait.max.ms" '10',
             "kafka.security.protocol" 'sasl_plaintext',
             "kafka.sasl.mechanism" 'PLAIN');
ALTER SERVER kafka_local OPTIONS (SET "kafka.fetch.wait.max.ms" '-1');
ALTER SERVER kafka_local OPTIONS (DROP brokers);
ALTER SERVER kafka_local OPTIONS (ADD "kafka.client.id" 'pg_continuous');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'kafka_local';

--
-- User mappings
--
CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_local OPTIONS (user 'alice');
CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_local OPTIONS (brokers 'localhost:9093');
CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_local
    OPTIONS (username 'alice', "kafka.sasl.password" 'secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_local
    OPTIONS (username 'alice', "kafka.session.timeout.ms" '0');
-- secrets are fine here
CREATE USER MAPPING FOR CURRENT_USER SERVER kafka_local
    OPTIONS (username 'alice', password 'secret', "kafka.ssl.key.password" 'secret');
DROP USER MAPPING FOR CURRENT_USER SERVER kafka_local;

--
-- Foreign tables: the streams
--

-- topic is required and a legal Kafka topic name
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local;
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local OPTIONS (topic '');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local OPTIONS (topic 'my orders');
-- unknown options, and options of other contexts
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', brokers 'localhost:9092');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', "kafka.fetch.wait.max.ms" '10');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', partition '0');
-- values
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', format 'avro');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', format 'JSON');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', start_offset 'beginning');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', event_time '');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', watermark_delay 'ten seconds');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', watermark_delay '-5 seconds');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', idle_timeout 'forever');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', max_future '-1 day');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', csv_delimiter ';');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', format 'csv', csv_delimiter ';;');
CREATE FOREIGN TABLE orders (order_id bigint) SERVER kafka_local
    OPTIONS (topic 'orders', format 'csv', csv_delimiter '"');
-- column options
CREATE FOREIGN TABLE orders (order_id bigint OPTIONS (kafka_metadata 'headers'))
    SERVER kafka_local OPTIONS (topic 'orders');
CREATE FOREIGN TABLE orders (order_id bigint OPTIONS (column_name 'id'))
    SERVER kafka_local OPTIONS (topic 'orders');

CREATE FOREIGN TABLE orders (
    order_id    bigint,
    customer_id int,
    amount      numeric,
    ts          timestamptz,
    part        int         OPTIONS (kafka_metadata 'partition'),
    pos         bigint      OPTIONS (kafka_metadata 'offset'),
    produced_at timestamptz OPTIONS (kafka_metadata 'timestamp'),
    msg_key     text        OPTIONS (kafka_metadata 'key')
) SERVER kafka_local
  OPTIONS (topic 'orders', format 'json', event_time 'ts',
           watermark_delay '10 seconds', idle_timeout 'PT30S',
           start_offset 'earliest');
CREATE FOREIGN TABLE order_lines (line text)
    SERVER kafka_local OPTIONS (topic 'orders.lines', format 'text');
CREATE FOREIGN TABLE order_rows (order_id bigint, amount numeric)
    SERVER kafka_local OPTIONS (topic 'orders_csv', format 'csv', csv_delimiter '|');
ALTER FOREIGN TABLE order_rows OPTIONS (SET format 'json');
ALTER FOREIGN TABLE order_rows OPTIONS (DROP topic);
ALTER FOREIGN TABLE orders ALTER COLUMN part OPTIONS (SET kafka_metadata 'partitions');
SELECT c.relname, t.ftoptions
  FROM pg_foreign_table t JOIN pg_class c ON c.oid = t.ftrelid
 ORDER BY c.relname;
SELECT attname, attfdwoptions FROM pg_attribute
 WHERE attrelid = 'orders'::regclass AND attfdwoptions IS NOT NULL
 ORDER BY attnum;

-- a Kafka stream cannot be read directly, nor written
SELECT * FROM orders;
SELECT count(*) FROM order_lines;
EXPLAIN SELECT * FROM orders;
CREATE VIEW orders_view AS SELECT order_id FROM orders;
SELECT * FROM orders_view;
INSERT INTO orders (order_id) VALUES (1);

--
-- Continuous views over Kafka streams (consuming is tested with a mock
-- broker in test/t/010_kafka.pl and 011_kafka_partitions.pl)
--
-- only foreign tables of continuous_kafka are streams
CREATE FOREIGN DATA WRAPPER regress_other_fdw;
CREATE SERVER regress_other FOREIGN DATA WRAPPER regress_other_fdw;
CREATE FOREIGN TABLE not_kafka (x int) SERVER regress_other;
CREATE VIEW not_kafka_count WITH (continuous) AS SELECT count(*) FROM not_kafka;
-- options that do not fit the columns are refused when the first view is made
CREATE FOREIGN TABLE two_texts (a text, b text)
    SERVER kafka_local OPTIONS (topic 'texts', format 'text');
CREATE VIEW two_texts_count WITH (continuous) AS SELECT count(*) FROM two_texts;
-- Kafka streams need no create_stream()
SELECT continuous.create_stream('orders');
-- the first continuous view registers the foreign table as a stream, with
-- the event time and delays of its options
CREATE VIEW orders_per_customer WITH (continuous) AS
    SELECT customer_id, count(*) AS orders, sum(amount) AS revenue
      FROM orders GROUP BY customer_id;
SELECT stream, kind, event_time, watermark, events, lag_bytes, lag_messages, wal_retained
FROM continuous.streams;
SELECT stream::regclass, event_time, watermark_delay, idle_timeout FROM continuous.stream_catalog;
-- so windows over the event time close by its watermark
CREATE VIEW orders_per_minute WITH (continuous, emit = 'window_close') AS
    SELECT continuous.tumble(ts, '1 minute') AS minute, count(*) AS orders
      FROM orders GROUP BY minute;
SELECT view, stream, emit, "window" FROM continuous.views ORDER BY view::text;
\d orders_per_customer
-- changed options reach the stream (and its worker), if they still fit
ALTER FOREIGN TABLE orders OPTIONS (SET watermark_delay '1 minute', DROP idle_timeout);
SELECT stream::regclass, event_time, watermark_delay, idle_timeout FROM continuous.stream_catalog;
ALTER FOREIGN TABLE orders OPTIONS (SET format 'text');
ALTER FOREIGN TABLE orders ADD COLUMN note jsonb;
ALTER SERVER kafka_local OPTIONS (ADD "kafka.socket.timeout.ms" '5000');
SELECT stream::regclass, event_time, watermark_delay, idle_timeout FROM continuous.stream_catalog;
ALTER FOREIGN TABLE orders OPTIONS (ADD max_future '1 hour');
SELECT stream::regclass, max_future FROM continuous.stream_catalog;
-- renaming the event-time column renames it in the option and the catalog
ALTER FOREIGN TABLE orders RENAME COLUMN ts TO ordered_at;
SELECT ftoptions FROM pg_foreign_table WHERE ftrelid = 'orders'::regclass;
SELECT stream::regclass, event_time FROM continuous.stream_catalog;
-- a stream gets no inheritance children (stream_ddl.sql), and a view does
-- not read a foreign table that has some
CREATE TABLE orders_archive () INHERITS (orders);
CREATE TABLE line_archive () INHERITS (order_lines);
CREATE VIEW lines_count WITH (continuous) AS SELECT count(*) FROM order_lines;
DROP TABLE line_archive;
-- the stream lives as long as its views
DROP VIEW orders_per_customer;
SELECT stream, kind FROM continuous.streams;
DROP VIEW orders_per_minute;
SELECT count(*) FROM continuous.streams;
DROP FOREIGN TABLE not_kafka, two_texts;
DROP SERVER regress_other;
DROP FOREIGN DATA WRAPPER regress_other_fdw;

--
-- Privileges: who may set what, and who sees the credentials
--
CREATE ROLE regress_kafka_owner;
CREATE ROLE regress_kafka_alice;
CREATE ROLE regress_kafka_bob;
GRANT USAGE ON FOREIGN DATA WRAPPER continuous_kafka TO regress_kafka_owner;

SET ROLE regress_kafka_owner;
-- settings that make librdkafka run programs or read server files
CREATE SERVER kafka_shared FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9092', "kafka.sasl.kerberos.kinit.cmd" '/bin/true');
CREATE SERVER kafka_shared FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9092', "kafka.plugin.library.paths" 'libevil');
CREATE SERVER kafka_shared FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9092', "kafka.ssl.ca.location" '/etc/passwd');
CREATE SERVER kafka_shared FOREIGN DATA WRAPPER continuous_kafka
    OPTIONS (brokers '127.0.0.1:9092', "kafka.security.protocol" 'sasl_plaintext');
GRANT USAGE ON FOREIGN SERVER kafka_shared TO regress_kafka_alice, regress_kafka_bob;
CREATE USER MAPPING FOR regress_kafka_alice SERVER kafka_shared
    OPTIONS (username 'alice', password 'alice-secret');
CREATE USER MAPPING FOR PUBLIC SERVER kafka_shared
    OPTIONS (username 'everyone', password 'shared-secret');
RESET ROLE;

-- the server's owner sees the PUBLIC mapping's options, not alice's
SET ROLE regress_kafka_owner;
SELECT usename, umoptions FROM pg_user_mappings
 WHERE srvname = 'kafka_shared' ORDER BY usename;
-- a mapped user sees only their own
SET ROLE regress_kafka_alice;
SELECT usename, umoptions FROM pg_user_mappings
 WHERE srvname = 'kafka_shared' ORDER BY usename;
-- anybody else sees none, and cannot read the catalog directly
SET ROLE regress_kafka_bob;
SELECT usename, umoptions FROM pg_user_mappings
 WHERE srvname = 'kafka_shared' ORDER BY usename;
SELECT umoptions FROM pg_user_mapping;
-- while server options are public
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'kafka_shared';
RESET ROLE;

-- superusers may set what runs programs; validation loads nothing
ALTER SERVER kafka_shared OPTIONS (ADD "kafka.plugin.library.paths" 'no_such_plugin');
-- ... after which its owner can no longer change the server's options
SET ROLE regress_kafka_owner;
ALTER SERVER kafka_shared OPTIONS (ADD "kafka.client.id" 'x');
RESET ROLE;

--
-- Cleanup
--
DROP SERVER kafka_shared CASCADE;
REVOKE USAGE ON FOREIGN DATA WRAPPER continuous_kafka FROM regress_kafka_owner;
DROP ROLE regress_kafka_owner, regress_kafka_alice, regress_kafka_bob;
DROP VIEW orders_view;
DROP SERVER kafka_local CASCADE;
DROP EXTENSION pg_continuous;
