/*-------------------------------------------------------------------------
 *
 * ddl_catalog.c
 *	  Reading and writing continuous.stream_catalog and view_catalog (and
 *	  their statistics rows) on behalf of DDL.
 *
 * Pipeline position: DDL.  create_stream/drop_stream (ddl_stream.c) and
 * CREATE VIEW ... WITH (continuous) (ddl_view.c) record what they create
 * here; the worker notices the rows in the WAL it decodes, or, without
 * decoding, by the invalidation each write sends (extension_catalog.c).  Users get no
 * privileges on these tables, so every access runs as the bootstrap
 * superuser, with a search_path that user objects cannot hijack.  The
 * statements are fixed strings with parameters: nothing a user typed is
 * executed with those rights.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "base/extension_catalog.h"
#include "base/privileges.h"
#include "ddl/ddl_catalog.h"
#include "ddl/upgrade.h"
#include "source/kafka/kafka_options.h"

static List *catalog_select(const char *sql, Oid key);
static List *catalog_select_rows(const char *sql, Oid key, int ncolumns);
static List *catalog_select_oids(const char *sql, Oid key);
static Oid	text_to_oid(const char *value);
static void catalog_execute(const char *sql, int nargs, Oid *argtypes,
							Datum *values, const char *nulls, int expected);

bool
ddl_catalog_is_stream(Oid relid)
{
	return catalog_select("SELECT 'yes' FROM continuous.stream_catalog WHERE stream OPERATOR(pg_catalog.=) $1",
						  relid) != NIL;
}

/* The storage table of a continuous view, or InvalidOid for other relations. */
Oid
ddl_catalog_storage_of_view(Oid relid)
{
	List	   *storage = catalog_select_oids("SELECT storage FROM continuous.view_catalog"
											  " WHERE view OPERATOR(pg_catalog.=) $1", relid);

	return storage ? linitial_oid(storage) : InvalidOid;
}

/* The stream a continuous view reads, or InvalidOid if it is none. */
Oid
ddl_catalog_stream_of_view(Oid relid)
{
	List	   *stream = catalog_select_oids("SELECT stream FROM continuous.view_catalog"
											 " WHERE view OPERATOR(pg_catalog.=) $1", relid);

	return stream ? linitial_oid(stream) : InvalidOid;
}

/*
 * Whether a continuous view is a transform, whose storage other continuous
 * views may read as their stream.
 */
bool
ddl_catalog_view_is_transform(Oid view)
{
	return catalog_select("SELECT 'yes' FROM continuous.view_catalog"
						  " WHERE view OPERATOR(pg_catalog.=) $1"
						  " AND kind OPERATOR(pg_catalog.=) 'transform'", view) != NIL;
}

/* The continuous view whose storage table this is, or InvalidOid. */
Oid
ddl_catalog_view_of_storage(Oid storage)
{
	List	   *view = catalog_select_oids("SELECT view FROM continuous.view_catalog"
										   " WHERE storage OPERATOR(pg_catalog.=) $1", storage);

	return view ? linitial_oid(view) : InvalidOid;
}

/* The continuous view whose definition view this is, or InvalidOid. */
Oid
ddl_catalog_view_of_query_view(Oid relid)
{
	List	   *view = catalog_select_oids("SELECT view FROM continuous.view_catalog"
										   " WHERE query_view OPERATOR(pg_catalog.=) $1", relid);

	return view ? linitial_oid(view) : InvalidOid;
}

List *
ddl_catalog_all_views(void)
{
	return catalog_select_oids("SELECT view FROM continuous.view_catalog"
							   " ORDER BY view", InvalidOid);
}

List *
ddl_catalog_views_of_stream(Oid stream)
{
	return catalog_select_oids("SELECT view FROM continuous.view_catalog"
							   " WHERE stream OPERATOR(pg_catalog.=) $1"
							   " OR join_stream OPERATOR(pg_catalog.=) $1 ORDER BY view",
							   stream);
}

/* An interval join's second stream, or InvalidOid. */
Oid
ddl_catalog_join_stream_of_view(Oid view)
{
	List	   *stream = catalog_select_oids("SELECT join_stream FROM continuous.view_catalog"
											 " WHERE view OPERATOR(pg_catalog.=) $1"
											 " AND join_stream IS NOT NULL", view);

	return stream ? linitial_oid(stream) : InvalidOid;
}

/* An interval join's second stream, read by the view too. */
void
ddl_catalog_set_join_stream(Oid view, Oid stream)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(view);
	values[1] = ObjectIdGetDatum(stream);
	catalog_execute("UPDATE continuous.view_catalog SET join_stream = $2"
					" WHERE view OPERATOR(pg_catalog.=) $1",
					2, argtypes, values, NULL, SPI_OK_UPDATE);
}

/*
 * The same (a view that reads the stream, or joins it), but not the views
 * a restore has not brought back yet (restore.c); unstarted_only: nor
 * those whose beginning the worker has written (view_stats.active_from).
 */
List *
ddl_catalog_restored_views_of_stream(Oid stream, bool unstarted_only)
{
	return catalog_select_oids(unstarted_only ?
							   "SELECT v.view FROM continuous.view_catalog v"
							   " LEFT JOIN continuous.view_stats s ON s.view OPERATOR(pg_catalog.=) v.view"
							   " WHERE (v.stream OPERATOR(pg_catalog.=) $1"
							   "        OR v.join_stream OPERATOR(pg_catalog.=) $1)"
							   " AND NOT v.restore_pending"
							   " AND s.active_from IS NULL ORDER BY v.view" :
							   "SELECT view FROM continuous.view_catalog"
							   " WHERE (stream OPERATOR(pg_catalog.=) $1"
							   "        OR join_stream OPERATOR(pg_catalog.=) $1)"
							   " AND NOT restore_pending ORDER BY view",
							   stream);
}

/*
 * The event-time column of a stream, by name, or NULL.  DDL and the worker
 * (through plan.c) both ask here, with the catalog owner's rights: the
 * worker runs a view's setup as the view's owner.
 */
char *
ddl_catalog_stream_event_time(Oid stream)
{
	List	   *event_time = catalog_select("SELECT event_time::text FROM continuous.stream_catalog"
											" WHERE stream OPERATOR(pg_catalog.=) $1", stream);

	return event_time ? linitial(event_time) : NULL;
}

/*
 * The emission table of an emit = 'window_close' view that other
 * continuous views read (view_chain.c), or InvalidOid.  plan.c asks, so
 * that such a reader's stream is that table.
 */
Oid
ddl_catalog_emission_of_view(Oid view)
{
	List	   *emission = catalog_select_oids("SELECT emission FROM continuous.view_emissions"
											   " WHERE view OPERATOR(pg_catalog.=) $1", view);

	return emission ? linitial_oid(emission) : InvalidOid;
}

/*
 * A view's emission table, and how far it emitted (chain_emit.c);
 * emitted_upto NULL: a transform, which emits nothing (its storage is its
 * emission table).
 */
void
ddl_catalog_add_emission(Oid view, Oid emission, AttrNumber window_column,
						 const TimestampTz *emitted_upto)
{
	Oid			argtypes[4] = {OIDOID, OIDOID, INT2OID, TIMESTAMPTZOID};
	Datum		values[4];
	char		nulls[5] = "    ";

	values[0] = ObjectIdGetDatum(view);
	values[1] = ObjectIdGetDatum(emission);
	values[2] = Int16GetDatum(window_column);
	values[3] = emitted_upto ? TimestampTzGetDatum(*emitted_upto) : (Datum) 0;
	if (emitted_upto == NULL)
		nulls[3] = 'n';
	catalog_execute("INSERT INTO continuous.view_emissions"
					" (view, emission, window_column, emitted_upto)"
					" VALUES ($1, $2, $3, $4)",
					4, argtypes, values, nulls, SPI_OK_INSERT);
}

/*
 * Every stream, for the checks around DDL on stream tables
 * (stream_guard.c); in the caller's memory context.
 */
List *
ddl_catalog_all_streams(void)
{
	List	   *streams = NIL;
	ListCell   *lc;

	foreach(lc, catalog_select_rows("SELECT stream, kind, event_time, unique_key"
									" FROM continuous.stream_catalog ORDER BY stream",
									InvalidOid, 4))
	{
		char	  **row = lfirst(lc);
		StreamCatalogEntry *entry = palloc0(sizeof(StreamCatalogEntry));

		entry->stream = text_to_oid(row[0]);
		entry->kafka = strcmp(row[1], "kafka") == 0;
		entry->event_time = row[2];
		if (row[3] != NULL)
		{
			Datum	   *names;
			int			nnames;
			int			i;

			/* array_in caches in its flinfo: not a direct call */
			deconstruct_array(DatumGetArrayTypeP(OidInputFunctionCall(F_ARRAY_IN, row[3],
																	  NAMEOID, -1)),
							  NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
							  &names, NULL, &nnames);
			for (i = 0; i < nnames; i++)
				entry->unique_key = lappend(entry->unique_key,
											pstrdup(NameStr(*DatumGetName(names[i]))));
		}
		streams = lappend(streams, entry);
	}
	return streams;
}

/* The continuous views whose late events go into this table. */
List *
ddl_catalog_views_with_late_table(Oid relid)
{
	return catalog_select_oids("SELECT view FROM continuous.view_catalog"
							   " WHERE late_table OPERATOR(pg_catalog.=) $1 ORDER BY view",
							   relid);
}

void
ddl_catalog_add_stream(Oid stream, const char *kind, const char *event_time,
					   Interval *watermark_delay, Interval *idle_timeout,
					   Interval *max_future)
{
	Oid			argtypes[6] = {OIDOID, NAMEOID, INTERVALOID, TEXTOID, INTERVALOID,
	INTERVALOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = ObjectIdGetDatum(stream);
	values[3] = CStringGetTextDatum(kind);
	values[4] = PointerGetDatum(idle_timeout);
	if (idle_timeout == NULL)
		nulls[4] = 'n';
	if (event_time != NULL)
		values[1] = DirectFunctionCall1(namein, CStringGetDatum(event_time));
	else
	{
		values[1] = (Datum) 0;
		nulls[1] = 'n';
	}
	values[2] = IntervalPGetDatum(watermark_delay);
	values[5] = IntervalPGetDatum(max_future);

	catalog_execute("INSERT INTO continuous.stream_catalog"
					" (stream, kind, event_time, watermark_delay, idle_timeout, max_future)"
					" VALUES ($1, $4, $2, $3, $5, $6)",
					6, argtypes, values, nulls, SPI_OK_INSERT);
	catalog_execute("INSERT INTO continuous.stream_stats (stream) VALUES ($1)",
					1, argtypes, values, NULL, SPI_OK_INSERT);
}

/*
 * A Kafka stream is registered by its first continuous view, and goes with
 * its last (continuous._on_sql_drop()).
 */
void
ddl_catalog_add_kafka_stream(Oid foreign_table)
{
	KafkaStreamOptions *opts = kafka_stream_options(foreign_table);

	ddl_catalog_add_stream(foreign_table, "kafka", opts->event_time,
						   opts->watermark_delay, opts->idle_timeout,
						   opts->max_future);
}

void
ddl_catalog_read_view_row(HeapTuple row, TupleDesc desc, ViewCatalogEntry *entry)
{
	bool		isnull;
	Datum		d;

	entry->view = DatumGetObjectId(SPI_getbinval(row, desc, 1, &isnull));
	entry->storage = DatumGetObjectId(SPI_getbinval(row, desc, 2, &isnull));
	entry->query_view = DatumGetObjectId(SPI_getbinval(row, desc, 3, &isnull));
	d = SPI_getbinval(row, desc, 4, &isnull);
	entry->counts_table = isnull ? InvalidOid : DatumGetObjectId(d);
	d = SPI_getbinval(row, desc, 5, &isnull);
	entry->late_table = isnull ? InvalidOid : DatumGetObjectId(d);
}

Oid
ddl_relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/*
 * The options of registered Kafka streams changed (ALTER FOREIGN TABLE,
 * ALTER SERVER, user mappings): check them against the columns again, as
 * the worker will read them, and update the catalog, which makes the worker
 * set the streams up anew.  relid, or every stream of server serverid.
 */
void
ddl_catalog_refresh_kafka_streams(Oid relid, Oid serverid)
{
	List	   *streams;
	ListCell   *lc;

	if (OidIsValid(relid))
		streams = catalog_select_oids("SELECT stream FROM continuous.stream_catalog"
									  " WHERE stream OPERATOR(pg_catalog.=) $1"
									  " AND kind OPERATOR(pg_catalog.=) 'kafka'", relid);
	else
		streams = catalog_select_oids("SELECT c.stream FROM continuous.stream_catalog c"
									  " JOIN pg_catalog.pg_foreign_table f"
									  " ON f.ftrelid OPERATOR(pg_catalog.=) c.stream"
									  " WHERE f.ftserver OPERATOR(pg_catalog.=) $1"
									  " AND c.kind OPERATOR(pg_catalog.=) 'kafka'", serverid);
	foreach(lc, streams)
	{
		Oid			stream = lfirst_oid(lc);
		KafkaStreamOptions *opts;
		Oid			argtypes[5] = {OIDOID, NAMEOID, INTERVALOID, INTERVALOID,
		INTERVALOID};
		Datum		values[5];
		char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

		opts = kafka_stream_options_for_user(stream, ddl_relation_owner(stream));
		values[0] = ObjectIdGetDatum(stream);
		if (opts->event_time)
			values[1] = DirectFunctionCall1(namein, CStringGetDatum(opts->event_time));
		else
			nulls[1] = 'n';
		values[2] = IntervalPGetDatum(opts->watermark_delay);
		values[3] = PointerGetDatum(opts->idle_timeout);
		if (opts->idle_timeout == NULL)
			nulls[3] = 'n';
		values[4] = IntervalPGetDatum(opts->max_future);
		catalog_execute("UPDATE continuous.stream_catalog"
						" SET event_time = $2, watermark_delay = $3, idle_timeout = $4,"
						" max_future = $5"
						" WHERE stream OPERATOR(pg_catalog.=) $1",
						5, argtypes, values, nulls, SPI_OK_UPDATE);
	}
}

/*
 * The catalog keeps the event-time column by name, as create_stream() was
 * told it (a name survives pg_dump, an attribute number does not); so a
 * rename of the column is written here, in the renaming transaction
 * (stream_guard.c).  The worker sees the write and reloads its streams.
 */
void
ddl_catalog_rename_event_time(Oid stream, const char *event_time)
{
	Oid			argtypes[2] = {OIDOID, NAMEOID};
	Datum		values[2];

	values[0] = ObjectIdGetDatum(stream);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(event_time));
	catalog_execute("UPDATE continuous.stream_catalog SET event_time = $2"
					" WHERE stream OPERATOR(pg_catalog.=) $1",
					2, argtypes, values, NULL, SPI_OK_UPDATE);
}

/*
 * Deduplication of a stream's events (dedup_options.c): its unique key's
 * columns, by name, and how long a key is remembered; NIL: none.
 */
void
ddl_catalog_set_dedup(Oid stream, List *unique_key, Interval *dedup_within)
{
	Oid			argtypes[3] = {OIDOID, TEXTARRAYOID, INTERVALOID};
	Datum		values[3];
	Datum	   *names = palloc(sizeof(Datum) * Max(list_length(unique_key), 1));
	char		nulls[3] = {' ', ' ', ' '};
	ListCell   *lc;

	foreach(lc, unique_key)
		names[foreach_current_index(lc)] = CStringGetTextDatum(lfirst(lc));
	values[0] = ObjectIdGetDatum(stream);
	values[1] = PointerGetDatum(construct_array(names, list_length(unique_key),
												TEXTOID, -1, false,
												TYPALIGN_INT));
	values[2] = PointerGetDatum(dedup_within);
	if (unique_key == NIL)
		nulls[1] = nulls[2] = 'n';
	catalog_execute("UPDATE continuous.stream_catalog"
					" SET unique_key = $2::pg_catalog.name[], dedup_within = $3"
					" WHERE stream OPERATOR(pg_catalog.=) $1",
					3, argtypes, values, nulls, SPI_OK_UPDATE);
}

/* The unique key's column names (NIL: none) and dedup_within of a stream. */
List *
ddl_catalog_stream_dedup(Oid stream, Interval **dedup_within)
{
	List	   *names = NIL;
	ListCell   *lc;

	*dedup_within = NULL;
	foreach(lc, catalog_select_rows("SELECT u.n::pg_catalog.text, c.dedup_within::pg_catalog.text"
									" FROM continuous.stream_catalog c,"
									" pg_catalog.unnest(c.unique_key) WITH ORDINALITY u(n, o)"
									" WHERE c.stream OPERATOR(pg_catalog.=) $1 ORDER BY u.o",
									stream, 2))
	{
		char	  **row = lfirst(lc);

		names = lappend(names, row[0]);
		if (*dedup_within == NULL && row[1] != NULL)
			*dedup_within = DatumGetIntervalP(DirectFunctionCall3(interval_in,
																  CStringGetDatum(row[1]),
																  ObjectIdGetDatum(InvalidOid),
																  Int32GetDatum(-1)));
	}
	return names;
}

/* A column of a stream's unique key was renamed (stream_guard.c). */
void
ddl_catalog_rename_unique_key(Oid stream, const char *old_name,
							  const char *new_name)
{
	Oid			argtypes[3] = {OIDOID, NAMEOID, NAMEOID};
	Datum		values[3];

	values[0] = ObjectIdGetDatum(stream);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(old_name));
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(new_name));
	catalog_execute("UPDATE continuous.stream_catalog"
					" SET unique_key = pg_catalog.array_replace(unique_key, $2, $3)"
					" WHERE stream OPERATOR(pg_catalog.=) $1",
					3, argtypes, values, NULL, SPI_OK_UPDATE);
}

/*
 * A view changed hands (ALTER VIEW ... OWNER TO; InvalidOid: REASSIGN
 * OWNED, any view): the worker runs a view's code as its owner, and must
 * load it again to take the new one.  The write to the view's catalog row
 * is what the worker sees.
 */
void
ddl_catalog_view_owner_changed(Oid view)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};

	if (OidIsValid(view))
		catalog_execute("UPDATE continuous.view_catalog SET view = view"
						" WHERE view OPERATOR(pg_catalog.=) $1",
						1, argtypes, values, NULL, SPI_OK_UPDATE);
	else
		catalog_execute("UPDATE continuous.view_catalog SET view = view",
						0, NULL, NULL, NULL, SPI_OK_UPDATE);
}

void
ddl_catalog_remove_stream(Oid stream)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(stream)};

	catalog_execute("DELETE FROM continuous.stream_catalog WHERE stream OPERATOR(pg_catalog.=) $1",
					1, argtypes, values, NULL, SPI_OK_DELETE);
	catalog_execute("DELETE FROM continuous.stream_stats WHERE stream OPERATOR(pg_catalog.=) $1",
					1, argtypes, values, NULL, SPI_OK_DELETE);
}

void
ddl_catalog_add_view(const ViewCatalogEntry *entry)
{
	Oid			argtypes[14] = {OIDOID, OIDOID, OIDOID, OIDOID, TEXTOID,
		TEXTOID, INTERVALOID, TEXTOID, INTERVALOID, TEXTOID, OIDOID, TEXTOID, OIDOID,
	TEXTOID};
	Datum		values[14];
	char		nulls[14] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = ObjectIdGetDatum(entry->view);
	values[1] = ObjectIdGetDatum(entry->stream);
	values[2] = ObjectIdGetDatum(entry->storage);
	values[3] = ObjectIdGetDatum(entry->query_view);
	values[4] = CStringGetTextDatum(entry->definition);
	values[5] = CStringGetTextDatum(entry->emit);
	values[6] = IntervalPGetDatum(entry->allowed_lateness);
	values[7] = CStringGetTextDatum(entry->late_events);
	if (entry->retention != NULL)
		values[8] = IntervalPGetDatum(entry->retention);
	else
	{
		values[8] = (Datum) 0;
		nulls[8] = 'n';
	}
	if (entry->window != NULL)
		values[9] = CStringGetTextDatum(entry->window);
	else
	{
		values[9] = (Datum) 0;
		nulls[9] = 'n';
	}

	values[10] = ObjectIdGetDatum(entry->late_table);
	if (!OidIsValid(entry->late_table))
		nulls[10] = 'n';
	values[11] = CStringGetTextDatum(entry->search_path);
	values[12] = ObjectIdGetDatum(entry->counts_table);
	if (!OidIsValid(entry->counts_table))
		nulls[12] = 'n';
	values[13] = CStringGetTextDatum(entry->kind);

	catalog_execute("INSERT INTO continuous.view_catalog"
					" (view, stream, storage, query_view, definition, emit,"
					"  allowed_lateness, late_events, retention, \"window\", late_table,"
					"  search_path, counts_table, kind)"
					" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
					14, argtypes, values, nulls, SPI_OK_INSERT);
	catalog_execute("INSERT INTO continuous.view_stats (view) VALUES ($1)",
					1, argtypes, values, NULL, SPI_OK_INSERT);

	/*
	 * A view of a Kafka stream that is consumed already begins where the
	 * stream's flushed offsets stand as this transaction sees them: every
	 * worker that flushes the stream before it loads the view leaves the
	 * view behind there, and the view catches up (kafka_source.c).
	 */
	catalog_execute("INSERT INTO continuous.kafka_view_offsets (view, stream, \"partition\", next_offset)"
					" SELECT $1, o.stream, o.\"partition\", o.next_offset"
					" FROM continuous.kafka_offsets o WHERE o.stream OPERATOR(pg_catalog.=) $2",
					2, argtypes, values, NULL, SPI_OK_INSERT);
}

void
ddl_catalog_remove_view(Oid view)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(view)};

	catalog_execute("DELETE FROM continuous.view_catalog WHERE view OPERATOR(pg_catalog.=) $1",
					1, argtypes, values, NULL, SPI_OK_DELETE);
	catalog_execute("DELETE FROM continuous.view_stats WHERE view OPERATOR(pg_catalog.=) $1",
					1, argtypes, values, NULL, SPI_OK_DELETE);
}

char *
ddl_relation_display_name(Oid relid)
{
	return DatumGetCString(DirectFunctionCall1(regclassout,
											   ObjectIdGetDatum(relid)));
}

/*
 * The first column, as text, of the rows a catalog query keyed by one oid
 * ($1; or no parameter if key is InvalidOid) returns, read with the
 * catalog owner's rights; NULLs are left out.  The strings are in the
 * caller's memory context.
 */
static List *
catalog_select(const char *sql, Oid key)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, catalog_select_rows(sql, key, 1))
	{
		char	  **row = lfirst(lc);

		if (row[0] != NULL)
			result = lappend(result, row[0]);
	}
	return result;
}

/*
 * The rows of a catalog query keyed as catalog_select()'s, each an array of
 * its first ncolumns columns as text (NULL for NULL), read with the catalog
 * owner's rights; in the caller's memory context.
 */
static List *
catalog_select_rows(const char *sql, Oid key, int ncolumns)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(key)};
	MemoryContext callercxt = CurrentMemoryContext;
	ExtensionPrivileges saved;
	List	   *result = NIL;
	uint64		i;

	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* not read-only: a fresh snapshot sees what this command wrote before */
	if (SPI_execute_with_args(sql, OidIsValid(key) ? 1 : 0, argtypes, values,
							  NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the pg_continuous catalog: %s", sql);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext spicxt = MemoryContextSwitchTo(callercxt);
		char	  **row = palloc(sizeof(char *) * ncolumns);
		int			c;

		for (c = 0; c < ncolumns; c++)
		{
			bool		isnull;
			Datum		value;

			/* relations are regclass (dumped by name): here by number */
			if (SPI_gettypeid(SPI_tuptable->tupdesc, c + 1) != REGCLASSOID)
			{
				row[c] = SPI_getvalue(SPI_tuptable->vals[i],
									  SPI_tuptable->tupdesc, c + 1);
				continue;
			}
			value = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
								  c + 1, &isnull);
			row[c] = isnull ? NULL : psprintf("%u", DatumGetObjectId(value));
		}
		result = lappend(result, row);
		MemoryContextSwitchTo(spicxt);
	}
	SPI_finish();
	privileges_leave_extension(&saved);
	return result;
}

/* catalog_select() of a query whose first column is an oid, as a List of Oid */
static List *
catalog_select_oids(const char *sql, Oid key)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, catalog_select(sql, key))
		oids = lappend_oid(oids, text_to_oid(lfirst(lc)));
	return oids;
}

static Oid
text_to_oid(const char *value)
{
	return DatumGetObjectId(DirectFunctionCall1(oidin, CStringGetDatum(value)));
}

/* Run one catalog-writing statement with the catalog owner's rights. */
static void
catalog_execute(const char *sql, int nargs, Oid *argtypes, Datum *values,
				const char *nulls, int expected)
{
	ExtensionPrivileges saved;
	int			rc;

	/* the catalog this library writes is its own version's */
	upgrade_require_current_catalog();
	privileges_become_extension(&saved);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(sql, nargs, argtypes, values, nulls, false, 0);
	if (rc != expected)
		elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s",
			 sql, SPI_result_code_string(rc));
	SPI_finish();
	privileges_leave_extension(&saved);
	/* the workers load the catalog again once this commits */
	continuous_catalog_changed();
}
