/*-------------------------------------------------------------------------
 *
 * storage_key.h
 *	  A view's groups as its storage index sees them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STORAGE_KEY_H
#define CONTINUOUS_STORAGE_KEY_H

#include "nodes/pg_list.h"
#include "utils/relcache.h"

#include "plan/plan.h"

/*
 * The unique index of an open storage table on the view's group keys
 * (ContinuousKey), opened with RowExclusiveLock; index_key[i] is set to
 * the key (its position in keys) that index column i holds.
 */
extern Relation storage_key_index(Relation storage, List *keys,
								  const char *view_name, int *index_key);

/* Whether a group's keys fit into an entry of that index. */
typedef struct StorageKeyCheck StorageKeyCheck;

/* NULL if no keys of these types can be too large; in CurrentMemoryContext. */
extern StorageKeyCheck *storage_key_check_create(Oid storage, List *keys,
												 const char *view_name);

/*
 * ERROR (program_limit_exceeded) if the keys, in the view's key order,
 * would not fit; nothing if check is NULL.  Allocates in
 * CurrentMemoryContext only for large keys.
 */
extern void storage_key_check(StorageKeyCheck *check, Datum *keys,
							  bool *isnull);

#endif							/* CONTINUOUS_STORAGE_KEY_H */
