/*-------------------------------------------------------------------------
 *
 * partition_route.h
 *	  Rows of partitions, delivered to the partitioned stream above them;
 *	  rows an UPDATE moved between partitions, recognised as such.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_PARTITION_ROUTE_H
#define CONTINUOUS_PARTITION_ROUTE_H

#include "access/tupconvert.h"
#include "access/xlogreader.h"
#include "replication/reorderbuffer.h"
#include "utils/relcache.h"

/* Where the rows of one partition go, as of the change being decoded. */
typedef struct PartitionRoute
{
	Oid			partition;		/* hash key */
	bool		valid;			/* false: look again before use */
	Oid			stream;			/* the nearest ancestor that is a stream;
								 * InvalidOid: none */
	Oid			top;			/* the topmost ancestor: rows move only
								 * within its tree */
	List	   *ancestors;		/* all of them, nearest first */
	TupleDesc	stream_desc;	/* the stream's row type (a copy) */
	uint64		layout;			/* a number for it: the same for equal row
								 * types of one stream, never reused */
	TupleDesc	partition_desc; /* the partition's (a copy), when ... */
	TupleConversionMap *map;	/* ... its rows need converting; NULL: same
								 * layout */
} PartitionRoute;

/*
 * A row an UPDATE is moving to another partition: its DELETE has been
 * decoded, its INSERT not yet.
 */
typedef struct RowMove
{
	TransactionId xid;			/* the (sub)transaction; invalid: none */
	Oid			top;			/* the partition tree it moves in */
	Oid			stream;			/* the stream it left; InvalidOid: none */
} RowMove;

/* Once per process; is_stream tells which relations are streams. */
extern void partition_route_init(bool (*is_stream) (Oid relid));

/* The streams changed: every route is looked up again. */
extern void partition_route_reset(void);

/*
 * The route of a partition (relispartition), built on first use under the
 * decoder's historic catalog snapshot, and looked up again after a decoded
 * change to the partition, or to any of its ancestors.
 */
extern PartitionRoute *partition_route(Relation partition);

/* A row of the partition as a row of route->stream; frees the original. */
extern HeapTuple partition_route_convert(PartitionRoute *route,
										 HeapTuple tuple);

/*
 * Row moves.  The decoder shows each WAL record here before decoding it,
 * and says, after reading, where the oldest transaction still being
 * decoded begins: marks before it are of no use anymore.
 */
extern void partition_route_read_record(XLogReaderState *reader);
extern void partition_route_forget_moves(XLogRecPtr before);

/* Is this change the DELETE of a row that moves to another partition? */
extern bool partition_route_marked(ReorderBufferChange *change);

/*
 * Is this INSERT the row a preceding DELETE of the same (sub)transaction
 * took out of another partition of the same tree?  Then *moved_from is
 * the stream it left.  A DELETE of a moving row is remembered in *move,
 * with stream, the stream it is deleted from (InvalidOid: none).
 */
extern bool partition_route_moved_row(RowMove *move, Relation relation,
									  ReorderBufferChange *change,
									  Oid stream, Oid *moved_from);

#endif							/* CONTINUOUS_PARTITION_ROUTE_H */
