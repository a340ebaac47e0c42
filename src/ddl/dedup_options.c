/*-------------------------------------------------------------------------
 *
 * dedup_options.c
 *	  A stream's deduplication options: unique_key and dedup_within, as
 *	  create_stream() takes them, and DDL on the key's columns.
 *
 * Pipeline position: DDL, before the source.  The options are written to
 * continuous.stream_catalog (ddl_catalog.c); the plan of each view of the
 * stream carries them (plan.c), and the dedup stage (stage_dedup.c) drops
 * the events whose key it has seen.  The key's columns are named in the
 * catalog, as the event-time column is (a name survives pg_dump): a
 * rename is followed in the renaming transaction, a drop or a change of
 * type refused.
 *
 * A Kafka stream takes the same options on its foreign table
 * (dedup_kafka_options()).
 *
 * A key column's type must have a default hash operator class: the stage
 * keeps the seen keys in a hash table, and compares them with that class's
 * equality, as a UNIQUE constraint or GROUP BY would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/hash.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_am.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "ddl/ddl_catalog.h"
#include "ddl/dedup_options.h"

#define UNIQUE_KEY_ACCEPTS \
	"Argument unique_key must name one or more columns of the table, separated by commas."

/* A column noted before a statement (dedup_guard_note()). */
typedef struct NotedColumn
{
	AttrNumber	attnum;
	char	   *name;
	Oid			type;
} NotedColumn;

static void check_key_column(Relation rel, const char *column, List *seen);
static void follow_kafka_rename(Oid stream);

List *
dedup_check_options(Relation rel, const char *unique_key,
					Interval *dedup_within)
{
	Interval	zero = {0};
	List	   *names = NIL;
	List	   *parsed;
	ListCell   *lc;
	char	   *raw;

	if (unique_key == NULL && dedup_within == NULL)
		return NIL;
	if (unique_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedup_within requires unique_key"),
				 errdetail("Events are deduplicated by the columns of their unique key."),
				 errhint("Add unique_key => 'column' to the call.")));
	if (dedup_within == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unique_key requires dedup_within"),
				 errdetail("A key is remembered for dedup_within of event time (of processing time without event time), so that the keys kept do not grow without bound."),
				 errhint("Give dedup_within as well, such as '1 hour': as long as a duplicate may arrive after its original.")));
	if (DatumGetBool(DirectFunctionCall2(interval_le,
										 IntervalPGetDatum(dedup_within),
										 IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedup_within must be greater than zero"),
				 errhint("Use an interval such as '1 hour'.")));

	raw = pstrdup(unique_key);
	if (!SplitIdentifierString(raw, ',', &parsed) || parsed == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid unique_key \"%s\"", unique_key),
				 errdetail(UNIQUE_KEY_ACCEPTS)));
	foreach(lc, parsed)
	{
		check_key_column(rel, lfirst(lc), names);
		names = lappend(names, pstrdup(lfirst(lc)));
	}
	if (list_length(names) > INDEX_MAX_KEYS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a unique key cannot have more than %d columns",
						INDEX_MAX_KEYS)));
	return names;
}

static void
check_key_column(Relation rel, const char *column, List *seen)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(rel), column);
	Oid			type;
	ListCell   *lc;

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						column, RelationGetRelationName(rel)),
				 errdetail(UNIQUE_KEY_ACCEPTS)));
	if (attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("system column \"%s\" cannot be part of the unique key",
						column),
				 errdetail(UNIQUE_KEY_ACCEPTS)));
	foreach(lc, seen)
	{
		if (strcmp(lfirst(lc), column) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column \"%s\" appears twice in the unique key",
							column)));
	}
	type = get_atttype(RelationGetRelid(rel), attnum);
	if (!OidIsValid(GetDefaultOpClass(type, HASH_AM_OID)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("could not identify an equality operator for type %s",
						format_type_be(type)),
				 errdetail("Column \"%s\" of the unique key must be of a type with a default hash operator class: seen keys are kept in a hash table.",
						   column)));
}

/*
 * The foreign table of a Kafka stream carries the same options.  Its
 * unique key cannot change while the stream is registered (while it has
 * views): their seen keys are of the old one.  dedup_within may.
 */
void
dedup_kafka_options(Oid foreign_table)
{
	ForeignTable *table = GetForeignTable(foreign_table);
	char	   *unique_key = NULL;
	Interval   *dedup_within = NULL;
	Interval   *old_within;
	List	   *names;
	List	   *old_names;
	Relation	rel;
	ListCell   *lc;

	foreach(lc, table->options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);

		if (strcmp(def->defname, "unique_key") == 0)
			unique_key = defGetString(def);
		else if (strcmp(def->defname, "dedup_within") == 0)
			dedup_within = DatumGetIntervalP(DirectFunctionCall3(interval_in,
																 CStringGetDatum(defGetString(def)),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));
	}

	rel = relation_open(foreign_table, AccessShareLock);
	names = dedup_check_options(rel, unique_key, dedup_within);
	old_names = ddl_catalog_stream_dedup(foreign_table, &old_within);
	if (old_names != NIL)
	{
		bool		same = list_length(names) == list_length(old_names);
		ListCell   *oc;

		forboth(lc, names, oc, old_names)
			same = same && strcmp(lfirst(lc), lfirst(oc)) == 0;
		if (!same)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot change the unique key of Kafka stream \"%s\" while continuous views read it",
							RelationGetRelationName(rel)),
					 errdetail("The views have seen keys of the unique key they were created with."),
					 errhint("Drop the continuous views of the stream, change the option, and create them again.")));
	}
	relation_close(rel, NoLock);
	ddl_catalog_set_dedup(foreign_table, names, dedup_within);
}

/* ------------------------------------------------------------------------
 * DDL on the stream table
 * ------------------------------------------------------------------------
 */

List *
dedup_guard_note(Oid stream, List *unique_key)
{
	List	   *noted = NIL;
	ListCell   *lc;

	foreach(lc, unique_key)
	{
		NotedColumn *col = palloc(sizeof(NotedColumn));

		col->name = lfirst(lc);
		col->attnum = get_attnum(stream, col->name);
		if (col->attnum > 0)
		{
			col->type = get_atttype(stream, col->attnum);
			noted = lappend(noted, col);
		}
	}
	return noted;
}

void
dedup_guard_verify(Oid stream, List *noted)
{
	bool		renamed = false;
	ListCell   *lc;

	foreach(lc, noted)
	{
		NotedColumn *col = lfirst(lc);
		HeapTuple	tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(stream),
											Int16GetDatum(col->attnum));
		Form_pg_attribute att;

		if (!HeapTupleIsValid(tuple))
			elog(ERROR, "cache lookup failed for attribute %d of relation %u",
				 col->attnum, stream);
		att = (Form_pg_attribute) GETSTRUCT(tuple);
		if (att->attisdropped)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop column \"%s\" of stream \"%s\"",
							col->name, get_rel_name(stream)),
					 errdetail("Column \"%s\" is part of the stream's unique key, by which its events are deduplicated.",
							   col->name),
					 errhint("Drop the stream with continuous.drop_stream() first; create it again afterwards if it should stay a stream.")));
		/* the seen keys are kept as text of the type they were seen as */
		if (att->atttypid != col->type)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot change the type of column \"%s\" of stream \"%s\"",
							col->name, get_rel_name(stream)),
					 errdetail("Column \"%s\" is part of the stream's unique key, of type %s.",
							   col->name, format_type_be(col->type)),
					 errhint("Drop the stream with continuous.drop_stream() first; create it again afterwards if it should stay a stream.")));
		if (strcmp(NameStr(att->attname), col->name) != 0)
		{
			ddl_catalog_rename_unique_key(stream, col->name,
										  NameStr(att->attname));
			renamed = true;
		}
		ReleaseSysCache(tuple);
	}
	if (renamed && get_rel_relkind(stream) == RELKIND_FOREIGN_TABLE)
		follow_kafka_rename(stream);
}

/*
 * A Kafka stream's unique key is its foreign table's option: it takes the
 * new names too (as the renaming user, who owns the table), which
 * dedup_kafka_options() then finds equal to the catalog's.
 */
static void
follow_kafka_rename(Oid stream)
{
	Interval   *within;
	StringInfoData names;
	ListCell   *lc;

	initStringInfo(&names);
	foreach(lc, ddl_catalog_stream_dedup(stream, &within))
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "",
						 quote_identifier(lfirst(lc)));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("ALTER FOREIGN TABLE %s OPTIONS (SET unique_key %s)",
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(stream)),
														get_rel_name(stream)),
							 quote_literal_cstr(names.data)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set option unique_key of Kafka stream %u", stream);
	SPI_finish();
}
