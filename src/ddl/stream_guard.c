/*-------------------------------------------------------------------------
 *
 * stream_guard.c
 *	  DDL on stream tables must not silently cut their continuous views
 *	  off: what it may change, what it may not.
 *
 * Pipeline position: DDL, before the source.  The views of a stream rely
 * on facts about its table that PostgreSQL's DDL can change: its
 * event-time column (continuous.stream_catalog names it; the watermark is
 * computed from it), its rows reaching the WAL (the decoder reads them
 * there, decoder.c), and its rows being what a SELECT over it reads (the
 * view must equal its SELECT).  This module keeps them true, or refuses:
 *
 *	 - renaming the event-time column is followed: the catalog gets the new
 *	   name in the same transaction (for a Kafka stream, the foreign
 *	   table's event_time option), so the worker finds the column after
 *	   its next reload or restart;
 *	 - dropping it, or changing its type, is refused while the stream is
 *	   registered;
 *	 - the columns of the unique key are treated alike (dedup_options.c);
 *	 - SET UNLOGGED is refused: logical decoding does not see unlogged
 *	   tables (create_stream refuses them too, ddl_stream.c);
 *	 - inheritance children are refused, at create_stream, at CREATE VIEW
 *	   and when DDL adds one: a SELECT over the stream reads their rows,
 *	   the decoder only the stream's own;
 *	 - the partitions of a partitioned stream (their rows are its events,
 *	   partition_route.c) must be logged tables, not foreign ones, and no
 *	   streams of their own nor late-events tables: at create_stream, at
 *	   CREATE TABLE ... PARTITION OF, ATTACH PARTITION and SET UNLOGGED;
 *	   a partition of a stream does not become a stream itself;
 *	 - ALTER COLUMN TYPE of a column a continuous view uses is refused with
 *	   PostgreSQL's own message for views, before PostgreSQL meets the
 *	   view's dependency on the column (ddl_view.c records it) and fails
 *	   with an internal error;
 *	 - a late-events table must not be (or route rows into) a stream, or
 *	   late events would become events again.
 *
 * It is a ProcessUtility hook of its own, chained in front of ddl_view.c's.
 * Before a statement that can change a table, it notes each registered
 * stream's event-time column (by attribute number, which a rename keeps);
 * after the statement, it looks at every stream again and follows or
 * refuses what changed.  Looking afterwards catches every way to a change,
 * including ALTER TABLE on a parent recursing to its children, ALTER TYPE
 * ... CASCADE on typed tables and DROP DOMAIN ... CASCADE; an error undoes
 * the statement.  Two refusals come before the statement instead, where
 * waiting would cost a table rewrite or meet PostgreSQL's internal error.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "base/extension_catalog.h"
#include "ddl/ddl_catalog.h"
#include "ddl/dedup_options.h"
#include "ddl/stream_guard.h"

/*
 * A registered stream as it was before a statement.  Only what the
 * statement changes is refused: a stream that came to differ some other
 * way must not make every later DDL of the database fail.
 */
typedef struct WatchedStream
{
	StreamCatalogEntry *entry;
	AttrNumber	event_time;		/* InvalidAttrNumber: none (or not found) */
	Oid			event_time_type;	/* its base type */
	char		persistence;
	List	   *children;		/* inheritance children */
	List	   *partitions;		/* partitioned: all partitions, any depth */
	List	   *unlogged;		/* those of them that were not logged */
	List	   *unique_key;		/* its unique key's columns (dedup_options.c) */
} WatchedStream;

static bool may_change_streams(Node *parsetree);
static bool guarding(void);
static void check_before(AlterTableStmt *stmt);
static Oid	view_using_column(Oid relid, AttrNumber attnum);
static List *watch_streams(void);
static void verify_streams(List *watched, List *attached);
static void verify_event_time(WatchedStream *w);
static void follow_rename(WatchedStream *w, const char *new_name);
static void refuse_unlogged(Oid stream) pg_attribute_noreturn();
static void check_no_children(Oid stream, List *before, const char *context);
static void check_not_late_target(Oid relid, const char *context);
static void check_partitions(WatchedStream *w);
static void check_partition(Oid stream, Oid partition, const char *context);
static void refuse_unlogged_partition(Oid partition, Oid stream) pg_attribute_noreturn();
static List *attached_partitions(Node *parsetree);
static char *qualified_name(Oid relid);

#define HINT_DROP_STREAM \
	"Drop the stream with continuous.drop_stream() first; create it again afterwards if it should stay a stream."

/*
 * Before a utility statement (utility_hook.c): refuse what would cut a
 * stream's views off, and return the streams the statement may change, for
 * stream_guard_after().
 */
List *
stream_guard_before(Node *parsetree)
{
	if (!may_change_streams(parsetree) || !guarding())
		return NIL;
	if (IsA(parsetree, AlterTableStmt))
		check_before((AlterTableStmt *) parsetree);
	return watch_streams();
}

/* After it: the streams it may have changed still serve their views. */
void
stream_guard_after(List *watched, Node *parsetree)
{
	if (watched == NIL)
		return;
	/* what the statement did is visible from here on */
	CommandCounterIncrement();
	verify_streams(watched, attached_partitions(parsetree));
}

/*
 * Statements that can drop, rename or retype a column of a stream, make it
 * unlogged, or give it inheritance children: ALTER TABLE (and ALTER TYPE of
 * a composite type, which is one too), RENAME of a column or attribute,
 * CREATE [FOREIGN] TABLE ... INHERITS, DROP TYPE/DOMAIN (CASCADE drops
 * columns of that type).
 */
static bool
may_change_streams(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
			return true;
		case T_RenameStmt:
			return ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN ||
				((RenameStmt *) parsetree)->renameType == OBJECT_ATTRIBUTE;
		case T_CreateStmt:
		case T_CreateForeignTableStmt:
			return ((CreateStmt *) parsetree)->inhRelations != NIL;
		case T_DropStmt:
			return ((DropStmt *) parsetree)->removeType == OBJECT_TYPE ||
				((DropStmt *) parsetree)->removeType == OBJECT_DOMAIN;
		default:
			return false;
	}
}

/*
 * The library is loaded in every database, the extension created in some;
 * its own script (CREATE or ALTER EXTENSION) runs before its catalog is
 * complete.
 */
static bool
guarding(void)
{
	Oid			extension;

	if (!IsTransactionState())
		return false;
	extension = continuous_extension_oid(true);
	return OidIsValid(extension) &&
		!(creating_extension && CurrentExtensionObject == extension);
}

/* ------------------------------------------------------------------------
 * Before the statement
 * ------------------------------------------------------------------------
 */

/*
 * What ALTER TABLE must not even begin: SET UNLOGGED of a stream (it would
 * rewrite the table first), and ALTER COLUMN TYPE of a column a continuous
 * view uses.  PostgreSQL refuses the latter for ordinary views with the
 * message below; for the dependency of a continuous view on the column it
 * has only an internal error ("unexpected object depending on column").
 */
static void
check_before(AlterTableStmt *stmt)
{
	Oid			relid = InvalidOid;
	ListCell   *lc;

	if (stmt->relation == NULL)
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		List	   *relids;
		ListCell   *rc;

		if (cmd->subtype != AT_SetUnLogged && cmd->subtype != AT_AlterColumnType)
			continue;
		if (!OidIsValid(relid))
			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
		if (!OidIsValid(relid))
			return;				/* PostgreSQL's own error will do */

		if (cmd->subtype == AT_SetUnLogged)
		{
			Oid			stream;

			if (ddl_catalog_is_stream(relid))
				refuse_unlogged(relid);
			stream = stream_guard_stream_above(relid);
			if (OidIsValid(stream))
				refuse_unlogged_partition(relid, stream);
			continue;
		}

		/* ALTER COLUMN TYPE recurses to inheritance children unless ONLY */
		relids = stmt->relation->inh ?
			find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
		foreach(rc, relids)
		{
			AttrNumber	attnum = get_attnum(lfirst_oid(rc), cmd->name);
			Oid			view;

			if (attnum <= 0)
				continue;
			view = view_using_column(lfirst_oid(rc), attnum);
			if (OidIsValid(view))
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot alter type of a column used by a view or rule"),
						 errdetail("Continuous view %s depends on column \"%s\".",
								   ddl_relation_display_name(view), cmd->name),
						 errhint("Drop the continuous view first, and create it again after altering the column.")));
		}
	}
}

/*
 * A continuous view that depends on the column, or InvalidOid.  CREATE VIEW
 * records the view's dependencies on the columns its SELECT uses with the
 * view's pg_class entry as the dependent (ddl_view.c); an ordinary view's
 * dependent is its rewrite rule.
 */
static Oid
view_using_column(Oid relid, AttrNumber attnum)
{
	Relation	depend = table_open(DependRelationId, AccessShareLock);
	ScanKeyData key[3];
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *candidates = NIL;
	ListCell   *lc;
	Oid			view = InvalidOid;

	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(RelationRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&key[2], Anum_pg_depend_refobjsubid, BTEqualStrategyNumber,
				F_INT4EQ, Int32GetDatum((int32) attnum));
	scan = systable_beginscan(depend, DependReferenceIndexId, true, NULL, 3, key);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tuple);

		if (dep->classid == RelationRelationId && dep->objsubid == 0 &&
			get_rel_relkind(dep->objid) == RELKIND_VIEW)
			candidates = lappend_oid(candidates, dep->objid);
	}
	systable_endscan(scan);
	table_close(depend, AccessShareLock);

	foreach(lc, candidates)
	{
		if (OidIsValid(ddl_catalog_storage_of_view(lfirst_oid(lc))))
		{
			view = lfirst_oid(lc);
			break;
		}
	}
	return view;
}

/* Every registered stream, with its event-time column as it is now. */
static List *
watch_streams(void)
{
	List	   *watched = NIL;
	ListCell   *lc;

	foreach(lc, ddl_catalog_all_streams())
	{
		WatchedStream *w = palloc0(sizeof(WatchedStream));

		w->entry = lfirst(lc);
		if (w->entry->event_time != NULL)
			w->event_time = get_attnum(w->entry->stream, w->entry->event_time);
		if (w->event_time > 0)
			w->event_time_type = getBaseType(get_atttype(w->entry->stream,
														 w->event_time));
		else
			w->event_time = InvalidAttrNumber;
		w->persistence = get_rel_persistence(w->entry->stream);
		w->unique_key = dedup_guard_note(w->entry->stream,
										 w->entry->unique_key);
		w->children = find_inheritance_children(w->entry->stream, NoLock);
		if (get_rel_relkind(w->entry->stream) == RELKIND_PARTITIONED_TABLE)
		{
			ListCell   *pc;

			w->partitions = list_delete_first(find_all_inheritors(w->entry->stream,
																  NoLock, NULL));
			foreach(pc, w->partitions)
				if (get_rel_persistence(lfirst_oid(pc)) != RELPERSISTENCE_PERMANENT)
					w->unlogged = lappend_oid(w->unlogged, lfirst_oid(pc));
		}
		watched = lappend(watched, w);
	}
	return watched;
}

/* ------------------------------------------------------------------------
 * After the statement
 * ------------------------------------------------------------------------
 */

/* attached: the tables ATTACH PARTITION made partitions, and theirs */
static void
verify_streams(List *watched, List *attached)
{
	ListCell   *lc;

	foreach(lc, watched)
	{
		WatchedStream *w = lfirst(lc);
		Oid			stream = w->entry->stream;

		if (get_rel_relkind(stream) == '\0')
			continue;			/* dropped: the sql_drop trigger's business */

		verify_event_time(w);
		dedup_guard_verify(stream, w->unique_key);
		if (w->persistence == RELPERSISTENCE_PERMANENT &&
			get_rel_persistence(stream) != RELPERSISTENCE_PERMANENT)
			refuse_unlogged(stream);
		check_no_children(stream, w->children, NULL);
		check_partitions(w);
		if (list_member_oid(attached, stream))
			check_not_late_target(stream, NULL);
	}
}

/* The event-time column must still be there, of its type; a rename is followed. */
static void
verify_event_time(WatchedStream *w)
{
	Oid			stream = w->entry->stream;
	HeapTuple	tuple;
	Form_pg_attribute att;

	if (w->event_time == InvalidAttrNumber)
		return;
	tuple = SearchSysCache2(ATTNUM, ObjectIdGetDatum(stream),
							Int16GetDatum(w->event_time));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for attribute %d of relation %u",
			 w->event_time, stream);
	att = (Form_pg_attribute) GETSTRUCT(tuple);

	if (att->attisdropped)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("cannot drop column \"%s\" of stream \"%s\"",
						w->entry->event_time, get_rel_name(stream)),
				 errdetail("Column \"%s\" is the stream's event time: its watermark, which closes the windows of its continuous views, is computed from it.",
						   w->entry->event_time),
				 errhint(HINT_DROP_STREAM)));
	if (getBaseType(att->atttypid) != w->event_time_type)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the type of column \"%s\" of stream \"%s\"",
						w->entry->event_time, get_rel_name(stream)),
				 errdetail("Column \"%s\" is the stream's event time, of type %s.",
						   w->entry->event_time,
						   format_type_be(w->event_time_type)),
				 errhint(HINT_DROP_STREAM)));
	if (strcmp(NameStr(att->attname), w->entry->event_time) != 0)
		follow_rename(w, NameStr(att->attname));
	ReleaseSysCache(tuple);
}

/*
 * The catalog names the event-time column (a name survives pg_dump, an
 * attribute number does not), so it learns the new name now, in the
 * renaming transaction; the worker sees that write and reloads.  A Kafka
 * stream's event time is the foreign table's option: it changes, which
 * updates the catalog through ddl_view.c's ALTER FOREIGN TABLE path.
 */
static void
follow_rename(WatchedStream *w, const char *new_name)
{
	Oid			stream = w->entry->stream;

	if (!w->entry->kafka)
	{
		ddl_catalog_rename_event_time(stream, new_name);
		return;
	}

	/* as the renaming user, who owns the table */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute(psprintf("ALTER FOREIGN TABLE %s OPTIONS (SET event_time %s)",
							 qualified_name(stream),
							 quote_literal_cstr(new_name)),
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not set option event_time of Kafka stream %u", stream);
	SPI_finish();
}

static void
refuse_unlogged(Oid stream)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot make stream \"%s\" unlogged", get_rel_name(stream)),
			 errdetail("Streams are read from the write-ahead log, and unlogged tables are not written to it."),
			 errhint(HINT_DROP_STREAM)));
}

/* ------------------------------------------------------------------------
 * Inheritance children and late events, also for create_stream and
 * CREATE VIEW
 * ------------------------------------------------------------------------
 */

void
stream_guard_check_new_stream(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	char	   *context = psprintf("cannot make \"%s\" a stream",
								   RelationGetRelationName(rel));
	Oid			above = stream_guard_stream_above(relid);

	if (OidIsValid(above))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s", context),
				 errdetail("\"%s\" is a partition of stream \"%s\": its rows are events of that stream already.",
						   RelationGetRelationName(rel), get_rel_name(above)),
				 errhint("Create continuous views over \"%s\"; a WHERE clause can select the rows of this partition.",
						 get_rel_name(above))));
	check_no_children(relid, NIL, context);
	check_not_late_target(relid, context);

	/*
	 * The partitions are locked as create_stream() locks the table: a
	 * concurrent create_stream() of one of them waits, and then finds this
	 * stream above it.
	 */
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		ListCell   *lc;

		foreach(lc, list_delete_first(find_all_inheritors(relid,
														  ShareUpdateExclusiveLock,
														  NULL)))
			check_partition(relid, lfirst_oid(lc), context);
	}
}

void
stream_guard_check_view_stream(Oid stream)
{
	check_no_children(stream, NIL,
					  psprintf("continuous views cannot read stream \"%s\"",
							   get_rel_name(stream)));
}

/*
 * A stream's rows are the rows a SELECT over it reads, unless it has
 * inheritance children: their rows are not the stream's in the WAL, so its
 * views would differ from their SELECT.  A partitioned table has no
 * inheritance children, only partitions, whose rows are its events
 * (check_partitions()); and a stream that is a partition has a parent,
 * which is no concern here.
 * context: the errmsg of create_stream or CREATE VIEW; NULL after DDL,
 * which may not add children to those it had before.
 */
static void
check_no_children(Oid stream, List *before, const char *context)
{
	List	   *children;
	const char *child;

	if (get_rel_relkind(stream) == RELKIND_PARTITIONED_TABLE)
		return;
	children = list_difference_oid(find_inheritance_children(stream, NoLock),
								   before);
	if (children == NIL)
		return;
	child = get_rel_name(linitial_oid(children));
	if (context == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot make \"%s\" an inheritance child of stream \"%s\"",
						child, get_rel_name(stream)),
				 errdetail("A SELECT over the stream would read the child's rows, but only the stream's own rows are its events, so its continuous views would differ from their SELECT."),
				 errhint("Insert the rows into the stream itself, or drop the stream with continuous.drop_stream() first.")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s", context),
			 errdetail("\"%s\" has inheritance child \"%s\": a SELECT over it reads the child's rows, but only its own rows would be its events.",
					   get_rel_name(stream), child),
			 errhint("Detach the children with ALTER TABLE ... NO INHERIT, or make each table without children a stream of its own.")));
}

/*
 * Rows inserted into a late-events table must not be events: a stream
 * that receives its own late events never stops.  relid, or a partitioned
 * table it is a partition of, must not be the late-events table of a view.
 */
static void
check_not_late_target(Oid relid, const char *context)
{
	List	   *tables = lcons_oid(relid, get_partition_ancestors(relid));
	ListCell   *lc;

	foreach(lc, tables)
	{
		List	   *views = ddl_catalog_views_with_late_table(lfirst_oid(lc));

		if (views == NIL)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 context ? errmsg("%s", context) :
				 errmsg("cannot attach stream \"%s\" as a partition of \"%s\"",
						get_rel_name(relid), get_rel_name(lfirst_oid(lc))),
				 errdetail("\"%s\" receives the late events of continuous view %s, and late events must not become events.",
						   get_rel_name(lfirst_oid(lc)),
						   ddl_relation_display_name(linitial_oid(views))),
				 errhint("Drop the continuous view first, or choose another table.")));
	}
}

void
stream_guard_check_late_table(Oid late_table, Oid stream)
{
	List	   *tables = get_rel_relkind(late_table) == RELKIND_PARTITIONED_TABLE ?
		find_all_inheritors(late_table, NoLock, NULL) : list_make1_oid(late_table);
	Oid			above = stream_guard_stream_above(late_table);
	ListCell   *lc;

	if (OidIsValid(above))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("late-events table \"%s\" is a partition of stream \"%s\"",
						get_rel_name(late_table), get_rel_name(above)),
				 errdetail("Rows inserted into a partition of stream \"%s\" are its events: late events must not become events.",
						   get_rel_name(above)),
				 errhint("Name a table that is not a stream in late_events, or use late_events = 'drop'.")));

	foreach(lc, tables)
	{
		Oid			relid = lfirst_oid(lc);

		if (relid != stream && !ddl_catalog_is_stream(relid))
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 relid == late_table ?
				 errmsg("late-events table \"%s\" is a stream",
						get_rel_name(late_table)) :
				 errmsg("late-events table \"%s\" has a partition that is a stream",
						get_rel_name(late_table)),
				 relid == stream ?
				 errdetail("Late events written into the view's own stream would be its events again, without end.") :
				 errdetail("Rows inserted into stream \"%s\" are its events: late events must not become events.",
						   get_rel_name(relid)),
				 errhint("Name a table that is not a stream in late_events, or use late_events = 'drop'.")));
	}
}

/* ------------------------------------------------------------------------
 * Partitions of partitioned streams
 * ------------------------------------------------------------------------
 */

/*
 * After DDL: the partitions a partitioned stream gained (CREATE TABLE ...
 * PARTITION OF, ATTACH PARTITION, at any depth) must do for it, and those
 * it had must stay logged.
 */
static void
check_partitions(WatchedStream *w)
{
	Oid			stream = w->entry->stream;
	ListCell   *lc;

	if (get_rel_relkind(stream) != RELKIND_PARTITIONED_TABLE)
		return;
	foreach(lc, list_delete_first(find_all_inheritors(stream, NoLock, NULL)))
	{
		Oid			partition = lfirst_oid(lc);

		if (!list_member_oid(w->partitions, partition))
			check_partition(stream, partition, NULL);
		else if (get_rel_persistence(partition) != RELPERSISTENCE_PERMANENT &&
				 !list_member_oid(w->unlogged, partition))
			refuse_unlogged_partition(partition, stream);
	}
}

/*
 * The rows of a partition of a partitioned stream are the stream's events
 * (partition_route.c): they must reach the WAL as rows of the partition, a
 * SELECT over the stream must read them, and they must be events of no
 * other stream.  So a partition is a logged table or partitioned table,
 * not a foreign one; it is no stream itself, and no late-events table.
 * context: the errmsg of create_stream; NULL after DDL that made the
 * table a partition.
 */
static void
check_partition(Oid stream, Oid partition, const char *context)
{
	const char *name = get_rel_name(partition);
	const char *stream_name = get_rel_name(stream);
	char		relkind = get_rel_relkind(partition);
	List	   *views;

	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 context ? errmsg("%s", context) :
				 errmsg("cannot make \"%s\" a partition of stream \"%s\"",
						name, stream_name),
				 errdetail("\"%s\" is a foreign table: a SELECT over the stream reads its rows, but they are not in the write-ahead log, so they would not be events.",
						   name),
				 context ? errhint("Detach the partition first.") :
				 errhint("Make it a partition of a table that is not a stream.")));

	if (get_rel_persistence(partition) != RELPERSISTENCE_PERMANENT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 context ? errmsg("%s", context) :
				 errmsg("cannot make unlogged table \"%s\" a partition of stream \"%s\"",
						name, stream_name),
				 context ?
				 errdetail("Partition \"%s\" is unlogged: streams are read from the write-ahead log, and unlogged tables are not written to it.",
						   name) :
				 errdetail("Streams are read from the write-ahead log, and unlogged tables are not written to it."),
				 errhint("Make the table logged with ALTER TABLE %s SET LOGGED first.",
						 qualified_name(partition))));

	if (ddl_catalog_is_stream(partition))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 context ? errmsg("%s", context) :
				 errmsg("cannot make stream \"%s\" a partition of stream \"%s\"",
						name, stream_name),
				 context ?
				 errdetail("Its partition \"%s\" is a stream of its own, and a row cannot be an event of two streams.",
						   name) :
				 errdetail("Rows inserted into \"%s\" would be events of both streams.",
						   name),
				 context ?
				 errhint("Drop the partition's stream with continuous.drop_stream() first: the continuous views of a partitioned stream count the rows of all its partitions.") :
				 errhint("Drop one of the two streams with continuous.drop_stream() first.")));

	views = ddl_catalog_views_with_late_table(partition);
	if (views != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 context ? errmsg("%s", context) :
				 errmsg("cannot make \"%s\" a partition of stream \"%s\"",
						name, stream_name),
				 errdetail("\"%s\" receives the late events of continuous view %s, and late events must not become events.",
						   name, ddl_relation_display_name(linitial_oid(views))),
				 errhint("Drop the continuous view first, or choose another table.")));
}

static void
refuse_unlogged_partition(Oid partition, Oid stream)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("cannot make partition \"%s\" of stream \"%s\" unlogged",
					get_rel_name(partition), get_rel_name(stream)),
			 errdetail("Streams are read from the write-ahead log, and unlogged tables are not written to it."),
			 errhint("Detach the partition from the stream first.")));
}

/*
 * The nearest partitioned table above relid that is a stream, or
 * InvalidOid.  A partition being detached concurrently has none, as for
 * queries.
 */
Oid
stream_guard_stream_above(Oid relid)
{
	ListCell   *lc;

	if (!get_rel_relispartition(relid))
		return InvalidOid;
	foreach(lc, get_partition_ancestors(relid))
	{
		if (ddl_catalog_is_stream(lfirst_oid(lc)))
			return lfirst_oid(lc);
	}
	return InvalidOid;
}

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------
 */

/*
 * The tables an ALTER TABLE ... ATTACH PARTITION has made partitions, with
 * their own partitions: those that may now receive rows inserted into a
 * late-events table.
 */
static List *
attached_partitions(Node *parsetree)
{
	List	   *attached = NIL;
	ListCell   *lc;

	if (!IsA(parsetree, AlterTableStmt))
		return NIL;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Oid			relid;

		if (cmd->subtype != AT_AttachPartition)
			continue;
		relid = RangeVarGetRelid(castNode(PartitionCmd, cmd->def)->name,
								 NoLock, true);
		if (OidIsValid(relid))
			attached = list_concat(attached,
								   find_all_inheritors(relid, NoLock, NULL));
	}
	return attached;
}

static char *
qualified_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  get_rel_name(relid));
}
