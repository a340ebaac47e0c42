/*-------------------------------------------------------------------------
 *
 * partition_route.c
 *	  Rows of partitions, delivered to the partitioned stream above them;
 *	  rows an UPDATE moved between partitions, recognised as such.
 *
 * Pipeline position: source, inside the decoder (decoder.c).  Logical
 * decoding reports a row as a change of the leaf partition that stores it,
 * never of the partitioned table it was inserted through.  A partitioned
 * table that is a stream owns the rows of every partition below it, at any
 * depth, including partitions created or attached after its views, as a
 * SELECT over it reads them.  For a changed partition this module finds
 * that stream, and converts the partition's rows to the stream's row type:
 * a partition may order its columns otherwise, or have dropped columns of
 * its own.
 *
 * Routes are looked up under the decoder's historic catalog snapshot, so a
 * row belongs to a stream if its table was a partition of the stream when
 * the row was inserted: rows inserted into a table before it is attached,
 * or after it is detached (or while DETACH ... CONCURRENTLY is pending, as
 * for queries), do not.  A route is kept per partition, and dropped by the
 * relcache invalidations decoding replays for the transactions that change
 * the partition or any of its ancestors (ATTACH, DETACH, ALTER TABLE).
 *
 * Row moves: an UPDATE that gives a row another partition deletes it from
 * one partition and inserts it into the other, and decoding reports just
 * that, a DELETE and an INSERT.  The INSERT is no new event: views ignore
 * UPDATEs.  The WAL record of such a DELETE is marked, but decoding does
 * not pass the mark on; so the decoder shows each record here as it reads
 * it, the positions of marked DELETEs are kept until their transaction is
 * decoded, and the next INSERT of the same (sub)transaction into the same
 * partition tree is taken for the moved row.  A BEFORE INSERT trigger of
 * the destination partition that itself inserts into that tree would be
 * taken for it instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam_xlog.h"
#include "access/rmgr.h"
#include "catalog/partition.h"
#include "miscadmin.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "base/memory.h"
#include "source/partition_route.h"

/* The last row type seen of a stream, and its number. */
typedef struct StreamLayout
{
	Oid			stream;			/* hash key */
	TupleDesc	desc;
	uint64		layout;
} StreamLayout;

static MemoryContext route_cxt = NULL;
static HTAB *routes = NULL;		/* partition Oid -> PartitionRoute */
static HTAB *layouts = NULL;	/* stream Oid -> StreamLayout */
static HTAB *marked_deletes = NULL; /* XLogRecPtr of marked DELETE records */
static uint64 last_layout = 0;
static bool (*route_is_stream) (Oid relid) = NULL;

static void route_build(PartitionRoute *route, Relation partition);
static void route_clear(PartitionRoute *route);
static uint64 stream_layout(Oid stream, TupleDesc desc);
static void route_invalidate(Datum arg, Oid relid);

void
partition_route_init(bool (*is_stream) (Oid relid))
{
	HASHCTL		ctl;

	if (route_cxt != NULL)
		return;
	route_is_stream = is_stream;
	route_cxt = AllocSetContextCreate(continuous_memory_context(),
									  "pg_continuous partition routes",
									  ALLOCSET_SMALL_SIZES);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PartitionRoute);
	ctl.hcxt = route_cxt;
	routes = hash_create("pg_continuous partition routes", 64, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.entrysize = sizeof(StreamLayout);
	layouts = hash_create("pg_continuous stream layouts", 16, &ctl,
						  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	ctl.keysize = sizeof(XLogRecPtr);
	ctl.entrysize = sizeof(XLogRecPtr);
	marked_deletes = hash_create("pg_continuous row moves", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	/*
	 * Decoding replays the invalidations of each decoded transaction that
	 * changed the catalog; the worker's own transactions bring others.  A
	 * route that one concerns is looked up again when next used.
	 */
	CacheRegisterRelcacheCallback(route_invalidate, (Datum) 0);
}

void
partition_route_reset(void)
{
	HASH_SEQ_STATUS seq;
	PartitionRoute *route;
	StreamLayout *layout;

	if (routes == NULL)
		return;
	hash_seq_init(&seq, routes);
	while ((route = hash_seq_search(&seq)) != NULL)
	{
		route_clear(route);
		hash_search(routes, &route->partition, HASH_REMOVE, NULL);
	}
	hash_seq_init(&seq, layouts);
	while ((layout = hash_seq_search(&seq)) != NULL)
	{
		FreeTupleDesc(layout->desc);
		hash_search(layouts, &layout->stream, HASH_REMOVE, NULL);
	}
}

PartitionRoute *
partition_route(Relation partition)
{
	Oid			relid = RelationGetRelid(partition);
	PartitionRoute *route;
	bool		found;

	Assert(partition->rd_rel->relispartition);
	route = hash_search(routes, &relid, HASH_ENTER, &found);
	if (!found)
	{
		memset(route, 0, sizeof(PartitionRoute));
		route->partition = relid;
	}
	if (!route->valid)
		route_build(route, partition);
	return route;
}

/*
 * pg_inherits as the historic snapshot has it: catalog scans during
 * decoding use it, as pgoutput's publish_via_partition_root does.
 */
static void
route_build(PartitionRoute *route, Relation partition)
{
	List	   *ancestors = get_partition_ancestors(RelationGetRelid(partition));
	MemoryContext oldcxt;
	ListCell   *lc;

	route_clear(route);
	oldcxt = MemoryContextSwitchTo(route_cxt);
	route->ancestors = list_copy(ancestors);
	route->top = ancestors != NIL ? llast_oid(ancestors) : RelationGetRelid(partition);
	foreach(lc, ancestors)
	{
		if (route_is_stream(lfirst_oid(lc)))
		{
			route->stream = lfirst_oid(lc);
			break;
		}
	}

	if (OidIsValid(route->stream))
	{
		Relation	stream = RelationIdGetRelation(route->stream);

		if (!RelationIsValid(stream))
			elog(ERROR, "could not open stream %u, a partitioned table of relation %u",
				 route->stream, RelationGetRelid(partition));
		route->stream_desc = CreateTupleDescCopy(RelationGetDescr(stream));
		RelationClose(stream);
		route->layout = stream_layout(route->stream, route->stream_desc);

		/* the map keeps pointing to both descriptors */
		route->partition_desc = CreateTupleDescCopy(RelationGetDescr(partition));
		route->map = convert_tuples_by_name(route->partition_desc,
											route->stream_desc);
		if (route->map == NULL)
		{
			FreeTupleDesc(route->partition_desc);
			route->partition_desc = NULL;
		}
	}
	MemoryContextSwitchTo(oldcxt);
	list_free(ancestors);
	route->valid = true;
}

static void
route_clear(PartitionRoute *route)
{
	if (route->map)
		free_conversion_map(route->map);
	if (route->partition_desc)
		FreeTupleDesc(route->partition_desc);
	if (route->stream_desc)
		FreeTupleDesc(route->stream_desc);
	list_free(route->ancestors);
	route->map = NULL;
	route->partition_desc = route->stream_desc = NULL;
	route->ancestors = NIL;
	route->stream = route->top = InvalidOid;
	route->layout = 0;
	route->valid = false;
}

/*
 * Routes of one stream built at different times have row types of their
 * own; the decoder gives the stream's events one copy per row type, and
 * tells them apart by this number.
 */
static uint64
stream_layout(Oid stream, TupleDesc desc)
{
	StreamLayout *layout;
	bool		found;

	layout = hash_search(layouts, &stream, HASH_ENTER, &found);
	if (found && equalTupleDescs(layout->desc, desc))
		return layout->layout;
	if (found)
		FreeTupleDesc(layout->desc);
	layout->desc = CreateTupleDescCopy(desc);
	layout->layout = ++last_layout;
	return layout->layout;
}

/*
 * Only marked here: the route may be in use while invalidations are
 * processed, so it is rebuilt (and its memory freed) when next looked up.
 */
static void
route_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	PartitionRoute *route;

	hash_seq_init(&seq, routes);
	while ((route = hash_seq_search(&seq)) != NULL)
	{
		if (!OidIsValid(relid) || route->partition == relid ||
			list_member_oid(route->ancestors, relid))
			route->valid = false;
	}
}

HeapTuple
partition_route_convert(PartitionRoute *route, HeapTuple tuple)
{
	HeapTuple	converted;

	if (route->map == NULL)
		return tuple;
	converted = execute_attr_map_tuple(tuple, route->map);
	heap_freetuple(tuple);
	return converted;
}

/* ------------------------------------------------------------------------
 * Row moves
 * ------------------------------------------------------------------------
 */

void
partition_route_read_record(XLogReaderState *reader)
{
	xl_heap_delete *xlrec;
	RelFileNode rnode;

	if (XLogRecGetRmid(reader) != RM_HEAP_ID ||
		(XLogRecGetInfo(reader) & XLOG_HEAP_OPMASK) != XLOG_HEAP_DELETE)
		return;
	xlrec = (xl_heap_delete *) XLogRecGetData(reader);
	if ((xlrec->flags & XLH_DELETE_IS_PARTITION_MOVE) == 0)
		return;
	XLogRecGetBlockTag(reader, 0, &rnode, NULL, NULL);
	if (rnode.dbNode != MyDatabaseId)
		return;
	/* decoding reports the DELETE with the position of its record */
	(void) hash_search(marked_deletes, &reader->ReadRecPtr, HASH_ENTER, NULL);
}

void
partition_route_forget_moves(XLogRecPtr before)
{
	HASH_SEQ_STATUS seq;
	XLogRecPtr *lsn;

	if (hash_get_num_entries(marked_deletes) == 0)
		return;
	hash_seq_init(&seq, marked_deletes);
	while ((lsn = hash_seq_search(&seq)) != NULL)
	{
		if (*lsn < before)
			hash_search(marked_deletes, lsn, HASH_REMOVE, NULL);
	}
}

bool
partition_route_marked(ReorderBufferChange *change)
{
	return change->action == REORDER_BUFFER_CHANGE_DELETE &&
		hash_get_num_entries(marked_deletes) > 0 &&
		hash_search(marked_deletes, &change->lsn, HASH_FIND, NULL) != NULL;
}

bool
partition_route_moved_row(RowMove *move, Relation relation,
						  ReorderBufferChange *change, Oid stream,
						  Oid *moved_from)
{
	if (change->action == REORDER_BUFFER_CHANGE_DELETE)
	{
		if (partition_route_marked(change) && relation->rd_rel->relispartition)
		{
			hash_search(marked_deletes, &change->lsn, HASH_REMOVE, NULL);
			move->xid = change->txn->xid;
			move->top = partition_route(relation)->top;
			move->stream = stream;
		}
		return false;
	}
	if (change->action != REORDER_BUFFER_CHANGE_INSERT ||
		!TransactionIdIsValid(move->xid) || move->xid != change->txn->xid ||
		!relation->rd_rel->relispartition ||
		partition_route(relation)->top != move->top)
		return false;

	/* rows a trigger inserts elsewhere meanwhile leave the move open */
	*moved_from = move->stream;
	move->xid = InvalidTransactionId;
	return true;
}
