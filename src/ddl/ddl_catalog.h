/*-------------------------------------------------------------------------
 *
 * ddl_catalog.h
 *	  The extension's catalog tables as seen by DDL: streams and continuous
 *	  views, read and written on behalf of users who have no rights on them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_DDL_CATALOG_H
#define CONTINUOUS_DDL_CATALOG_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* What DDL on stream tables needs of a row of continuous.stream_catalog. */
typedef struct StreamCatalogEntry
{
	Oid			stream;
	bool		kafka;			/* kind 'kafka'; else 'table' */
	char	   *event_time;		/* column name, or NULL */
	List	   *unique_key;		/* its columns' names (char *), NIL: none */
} StreamCatalogEntry;

/* A row of continuous.view_catalog. */
typedef struct ViewCatalogEntry
{
	Oid			view;
	Oid			stream;
	Oid			storage;
	Oid			query_view;		/* its definition view (view_definition.c) */
	Oid			counts_table;	/* its count window's table of counts, or
								 * InvalidOid */
	char	   *definition;		/* the SELECT as the user wrote it */
	char	   *emit;
	Interval   *allowed_lateness;
	char	   *late_events;	/* 'drop', or the late-events table's name */
	Oid			late_table;		/* that table; InvalidOid for 'drop' */
	Interval   *retention;		/* NULL: keep forever */
	char	   *window;			/* e.g. "tumble 00:01:00"; NULL: none */
	char	   *search_path;	/* the creating session's, as schema names */
	const char *kind;			/* 'aggregate', or 'transform' (no aggregates) */
} ViewCatalogEntry;

extern bool ddl_catalog_is_stream(Oid relid);
extern Oid	ddl_catalog_storage_of_view(Oid view);	/* InvalidOid: not one */
extern Oid	ddl_catalog_stream_of_view(Oid view);	/* InvalidOid: not one */
extern Oid	ddl_catalog_view_of_storage(Oid storage);	/* InvalidOid: none */
extern Oid	ddl_catalog_view_of_query_view(Oid relid);	/* InvalidOid: none */
extern List *ddl_catalog_views_of_stream(Oid stream);	/* view OIDs */
extern List *ddl_catalog_restored_views_of_stream(Oid stream, bool unstarted_only);
extern bool ddl_catalog_view_is_transform(Oid view);
extern List *ddl_catalog_all_views(void);	/* view OIDs */
extern char *ddl_catalog_stream_event_time(Oid stream);	/* NULL: none */
extern List *ddl_catalog_all_streams(void);	/* StreamCatalogEntry */
extern List *ddl_catalog_views_with_late_table(Oid relid);	/* view OIDs */

extern void ddl_catalog_add_stream(Oid stream, const char *kind,
								   const char *event_time,
								   Interval *watermark_delay,
								   Interval *idle_timeout,
								   Interval *max_future);
/* A Kafka stream, as its foreign table's options describe it. */
extern void ddl_catalog_add_kafka_stream(Oid foreign_table);
extern void ddl_catalog_refresh_kafka_streams(Oid relid, Oid serverid);
extern void ddl_catalog_remove_stream(Oid stream);
/* The event-time column of a table stream was renamed. */
extern void ddl_catalog_rename_event_time(Oid stream, const char *event_time);
/* Deduplication: a stream's unique key (column names) and dedup_within. */
extern void ddl_catalog_set_dedup(Oid stream, List *unique_key,
								  Interval *dedup_within);
extern List *ddl_catalog_stream_dedup(Oid stream, Interval **dedup_within);
extern void ddl_catalog_rename_unique_key(Oid stream, const char *old_name,
										  const char *new_name);
extern void ddl_catalog_view_owner_changed(Oid view);
extern void ddl_catalog_add_view(const ViewCatalogEntry *entry);
extern void ddl_catalog_set_join_stream(Oid view, Oid stream);
extern Oid	ddl_catalog_join_stream_of_view(Oid view);
extern Oid	ddl_catalog_emission_of_view(Oid view);
extern void ddl_catalog_add_emission(Oid view, Oid emission,
									 AttrNumber window_column,
									 const TimestampTz *emitted_upto);
extern void ddl_catalog_remove_view(Oid view);

/* The owner of a relation (pg_class.relowner). */
extern Oid	ddl_relation_owner(Oid relid);

/*
 * The fields view, storage, query_view, counts_table and late_table of a
 * ViewCatalogEntry from the first five columns of an SPI row that selects
 * them in that order from continuous.view_catalog.
 */
extern void ddl_catalog_read_view_row(HeapTuple row, TupleDesc desc,
									  ViewCatalogEntry *entry);

/* "name", or "schema.name" when not on search_path; quoted as needed */
extern char *ddl_relation_display_name(Oid relid);

#endif							/* CONTINUOUS_DDL_CATALOG_H */
