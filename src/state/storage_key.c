/*-------------------------------------------------------------------------
 *
 * storage_key.c
 *	  A view's groups as its storage index sees them: which index it is,
 *	  which group key each index column holds, and whether a group's keys
 *	  fit into an index entry at all.
 *
 * Pipeline position: batch and flush.  The flush (flush.c) finds groups
 * through the unique index of the storage table on the group keys.  A key
 * too large for a B-tree entry (a 64 kB text, a 10 MB Kafka field) cannot
 * be stored, and if it reached the flush, the flush would fail for every
 * view of the database, again after every restart.  So the batch
 * (stage_aggregate.c) asks here before an event joins a group: such an event is
 * refused like one whose evaluation fails, and becomes a dead letter.
 *
 * Only views with a key of variable or large fixed length check anything,
 * and an event only pays for the exact check, the size of the index entry
 * as index_form_tuple() would build it (compressed as it would compress
 * it), when its keys are large to begin with.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/toast_internals.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "state/storage_key.h"

/*
 * The largest B-tree entry, as nbtree.h's BTMaxItemSize() computes it for a
 * page of BLCKSZ (heap TID included: version 4 indexes).
 */
#define STORAGE_KEY_MAX_ENTRY \
	MAXALIGN_DOWN((BLCKSZ - \
				   MAXALIGN(SizeOfPageHeaderData + \
							3 * sizeof(ItemIdData) + \
							3 * sizeof(ItemPointerData)) - \
				   MAXALIGN(sizeof(BTPageOpaqueData))) / 3)

struct StorageKeyCheck
{
	const char *view_name;
	int			nkeys;
	TupleDesc	index_desc;		/* the index entry's columns */
	int		   *index_key;		/* plan key of each index column */
	Datum	   *values;			/* scratch, in index order */
	bool	   *isnull;
};

Relation
storage_key_index(Relation storage, List *keys, const char *view_name,
				  int *index_key)
{
	int			nkeys = list_length(keys);
	List	   *indexes = RelationGetIndexList(storage);
	Relation	index = NULL;
	ListCell   *lc;
	int			i;

	foreach(lc, indexes)
	{
		Relation	candidate = index_open(lfirst_oid(lc), RowExclusiveLock);

		if (candidate->rd_index->indisunique &&
			candidate->rd_index->indnkeyatts == nkeys)
		{
			index = candidate;
			break;
		}
		index_close(candidate, RowExclusiveLock);
	}
	list_free(indexes);
	if (index == NULL)
		elog(ERROR, "storage of continuous view \"%s\" has no unique index on its keys",
			 view_name);

	for (i = 0; i < nkeys; i++)
	{
		AttrNumber	attno = index->rd_index->indkey.values[i];

		index_key[i] = -1;
		foreach(lc, keys)
		{
			ContinuousKey *key = lfirst(lc);

			if (get_attnum(RelationGetRelid(storage), key->column) == attno)
				index_key[i] = foreach_current_index(lc);
		}
		if (index_key[i] < 0)
			elog(ERROR, "unique index of continuous view \"%s\" is not on its keys",
				 view_name);
	}
	return index;
}

StorageKeyCheck *
storage_key_check_create(Oid storage, List *keys, const char *view_name)
{
	StorageKeyCheck *check;
	Relation	rel;
	Relation	index;
	Size		fixed = 0;
	bool		variable = false;
	ListCell   *lc;

	if (keys == NIL)
		return NULL;
	foreach(lc, keys)
	{
		ContinuousKey *key = lfirst(lc);
		int16		typlen = get_typlen(key->type);

		if (typlen < 0)
			variable = true;
		else
			fixed += MAXALIGN(typlen);
	}
	/* keys of a few fixed-length columns always fit */
	if (!variable && fixed + MAXALIGN(sizeof(IndexTupleData) + sizeof(IndexAttributeBitMapData)) <= STORAGE_KEY_MAX_ENTRY)
		return NULL;

	check = palloc0(sizeof(StorageKeyCheck));
	check->view_name = view_name;
	check->nkeys = list_length(keys);
	check->index_key = palloc(sizeof(int) * check->nkeys);
	check->values = palloc(sizeof(Datum) * check->nkeys);
	check->isnull = palloc(sizeof(bool) * check->nkeys);

	rel = table_open(storage, AccessShareLock);
	index = storage_key_index(rel, keys, view_name, check->index_key);
	check->index_desc = CreateTupleDescCopy(RelationGetDescr(index));
	index_close(index, RowExclusiveLock);
	table_close(rel, AccessShareLock);
	return check;
}

/* The value as index_form_tuple() would store it. */
static Datum
entry_value(Form_pg_attribute att, Datum value)
{
	if (att->attlen != -1)
		return value;
	if (VARATT_IS_EXTERNAL(DatumGetPointer(value)))
		value = PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(value)));
	if (!VARATT_IS_EXTENDED(DatumGetPointer(value)) &&
		VARSIZE(DatumGetPointer(value)) > TOAST_INDEX_TARGET &&
		(att->attstorage == TYPSTORAGE_EXTENDED ||
		 att->attstorage == TYPSTORAGE_MAIN))
	{
		Datum		compressed = toast_compress_datum(value, att->attcompression);

		if (DatumGetPointer(compressed) != NULL)
			return compressed;
	}
	return value;
}

void
storage_key_check(StorageKeyCheck *check, Datum *keys, bool *isnull)
{
	Size		size = MAXALIGN(sizeof(IndexTupleData) + sizeof(IndexAttributeBitMapData));
	unsigned short infomask = 0;
	int			i;

	if (check == NULL)
		return;

	/* an upper bound first: most keys are far from the limit */
	for (i = 0; i < check->nkeys; i++)
	{
		Form_pg_attribute att = TupleDescAttr(check->index_desc, i);
		int			k = check->index_key[i];

		if (isnull[k])
			continue;
		if (att->attlen == -1 && VARATT_IS_EXTERNAL(DatumGetPointer(keys[k])))
		{
			size = SIZE_MAX;
			break;
		}
		size += att->attlen > 0 ? MAXALIGN(att->attlen) :
			att->attlen == -1 ? MAXALIGN(VARSIZE_ANY(DatumGetPointer(keys[k]))) :
			MAXALIGN(strlen(DatumGetCString(keys[k])) + 1);
	}
	if (size <= STORAGE_KEY_MAX_ENTRY)
		return;

	for (i = 0; i < check->nkeys; i++)
	{
		int			k = check->index_key[i];

		check->isnull[i] = isnull[k];
		check->values[i] = isnull[k] ? (Datum) 0 :
			entry_value(TupleDescAttr(check->index_desc, i), keys[k]);
		if (isnull[k])
			infomask |= INDEX_NULL_MASK;
	}
	size = MAXALIGN(IndexInfoFindDataOffset(infomask) +
					heap_compute_data_size(check->index_desc, check->values,
										   check->isnull));
	if (size > STORAGE_KEY_MAX_ENTRY)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("group key of continuous view \"%s\" is too large to be stored",
						check->view_name),
				 errdetail("Its index entry would take %zu bytes, more than the %zu a B-tree entry may take.",
						   size, (Size) STORAGE_KEY_MAX_ENTRY),
				 errhint("Group by a shorter expression, such as md5() of the value.")));
}
