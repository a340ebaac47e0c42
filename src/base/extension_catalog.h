/*-------------------------------------------------------------------------
 *
 * extension_catalog.h
 *	  Names and cached OIDs of the extension's own objects: the extension,
 *	  its schemas, catalog tables and SQL functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_EXTENSION_CATALOG_H
#define CONTINUOUS_EXTENSION_CATALOG_H

#define CONTINUOUS_EXTENSION_NAME	"pg_continuous"
#define CONTINUOUS_SCHEMA			"continuous"
#define CONTINUOUS_STORAGE_SCHEMA	"continuous_storage"
/* the library is also the output plugin of the workers' replication slots */
#define CONTINUOUS_PLUGIN_NAME		"pg_continuous"

/* catalog tables in schema continuous (see src/sql/pg_continuous--0.1.sql) */
#define CATALOG_STREAMS			"stream_catalog"
#define CATALOG_VIEWS			"view_catalog"
#define CATALOG_POSITION		"decoder_position"
#define CATALOG_STREAM_STATS	"stream_stats"
#define CATALOG_VIEW_STATS		"view_stats"
#define CATALOG_DEAD_LETTERS	"dead_letters"

/* InvalidOid without the extension; an ERROR then unless missing_ok */
extern Oid	continuous_extension_oid(bool missing_ok);

/*
 * Does this database have the extension?  The library is loaded in every
 * database of the cluster, the extension created in only some; asked for
 * many utility statements, so cached (see extension_catalog.c).  False
 * outside a transaction.
 */
extern bool continuous_extension_exists(void);
extern Oid	continuous_schema_oid(void);
extern Oid	continuous_storage_schema_oid(void);
extern Oid	continuous_catalog_relid(const char *name);
extern bool continuous_function_is(Oid funcid, const char *name);
extern Oid	continuous_function_oid(const char *name, int nargs,
									const Oid *argtypes);

/* For writers of stream_catalog and view_catalog: tell the workers. */
extern void continuous_catalog_changed(void);

#endif							/* CONTINUOUS_EXTENSION_CATALOG_H */
