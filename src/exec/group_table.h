/*-------------------------------------------------------------------------
 *
 * group_table.h
 *	  The groups of one view's batch, by their keys (group_table.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef PG_CONTINUOUS_GROUP_TABLE_H
#define PG_CONTINUOUS_GROUP_TABLE_H

#include "executor/executor.h"

struct GroupStates;
typedef struct GroupTable GroupTable;

typedef struct GroupTableIterator
{
	TupleHashIterator tuples;	/* over PostgreSQL's table */
	uint64		next;			/* over the binary-key table: next bucket */
} GroupTableIterator;

/* Can keys of these types, compared with these operators, be compared as bits? */
extern bool group_table_binary_keys(TupleDesc keydesc, const Oid *eqops);

/*
 * A table over "tuples" (PostgreSQL's TupleHashTable, built by the caller)
 * or, when "tuples" is NULL, over binary keys.  Allocated in cxt.
 */
extern GroupTable *group_table_create(TupleDesc keydesc, TupleHashTable tuples,
									  MemoryContext cxt);
extern void group_table_destroy(GroupTable *table);
extern void group_table_reset(GroupTable *table);
extern int64 group_table_count(GroupTable *table);

/*
 * The states of the group of the keys in values/isnull (one per key):
 * *isnew if the group was added, its states left to set.
 */
extern struct GroupStates **group_table_lookup(GroupTable *table,
											   const Datum *values,
											   const bool *isnull,
											   bool *isnew);

/* Every group, in no particular order; *keys is valid until the next call. */
extern void group_table_begin(GroupTable *table, GroupTableIterator *iter);
extern bool group_table_next(GroupTable *table, GroupTableIterator *iter,
							 TupleTableSlot **keys, struct GroupStates **states);

#endif
