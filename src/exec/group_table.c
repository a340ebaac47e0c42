/*-------------------------------------------------------------------------
 *
 * group_table.c
 *	  The groups of one view's batch, by their keys.
 *
 * Pipeline position: batch.  stage_aggregate.c looks up the group of
 * every event here, flush.c and window_session.c go through the groups at
 * flush.
 *
 * Most views group by integers, dates and timestamps (a window start is a
 * timestamp).  Two such values are equal exactly when their bits are, so
 * for up to BINARY_KEYS_MAX of them the table hashes and compares the
 * Datums themselves, in a simplehash: no slot deforming, no function calls
 * per event.  Any other key (text, numeric, floats, where equal values can
 * differ in their bits) goes to PostgreSQL's TupleHashTable with the GROUP
 * BY's own hash and equality functions, as HashAgg does.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "utils/typcache.h"

#include "base/memory.h"
#include "exec/group_table.h"

#define BINARY_KEYS_MAX 4

/* A table is made for this many groups at least, */
#define GROUP_TABLE_MIN_SIZE 1024
/* and made anew when it has this many times the buckets a batch needed. */
#define GROUP_TABLE_SHRINK_FACTOR 8

/* Keys as bits: canonical Datums, 0 where NULL or unused. */
typedef struct BinaryKey
{
	Datum		values[BINARY_KEYS_MAX];
	uint8		nulls;			/* bit i: key i is NULL */
} BinaryKey;

typedef struct BinaryEntry
{
	BinaryKey	key;
	struct GroupStates *states;
	uint32		hash;
	char		status;			/* simplehash's */
} BinaryEntry;

struct GroupTable
{
	TupleHashTable tuples;		/* NULL: the binary table is used */
	struct binary_groups_hash *binary;
	int			nkeys;
	int16		typlen[BINARY_KEYS_MAX];
	bool		isbool[BINARY_KEYS_MAX];
	TupleTableSlot *keys;		/* an event's keys, for PostgreSQL's table */
	TupleTableSlot *out;		/* a group's keys, when iterating */
};

static inline uint32 binary_key_hash(const BinaryKey *key, int nkeys);

#define SH_PREFIX binary_groups
#define SH_ELEMENT_TYPE BinaryEntry
#define SH_KEY_TYPE BinaryKey
#define SH_KEY key
#define SH_HASH_KEY(tb, k) \
	binary_key_hash(&(k), ((GroupTable *) (tb)->private_data)->nkeys)
#define SH_EQUAL(tb, a, b) \
	((a).nulls == (b).nulls && (a).values[0] == (b).values[0] && \
	 (a).values[1] == (b).values[1] && (a).values[2] == (b).values[2] && \
	 (a).values[3] == (b).values[3])
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_USE_NONDEFAULT_ALLOCATOR
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/*
 * A table's buckets, zeroed, as simplehash's own allocator makes them, but
 * advised for huge pages first (base/memory.h): the table of a million
 * groups takes over 100 MB, every page of which the zeroing touches.
 */
static inline void *
binary_groups_allocate(binary_groups_hash *table, Size size)
{
	void	   *buckets = MemoryContextAllocExtended(table->ctx, size,
													 MCXT_ALLOC_HUGE);

	continuous_advise_huge_pages(buckets, size);
	memset(buckets, 0, size);
	return buckets;
}

static inline void
binary_groups_free(binary_groups_hash *table, void *buckets)
{
	pfree(buckets);
}

/* The finalizer of splitmix64: every input bit moves every output bit. */
static inline uint64
mix64(uint64 x)
{
	x ^= x >> 30;
	x *= UINT64CONST(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64CONST(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

static inline uint32
binary_key_hash(const BinaryKey *key, int nkeys)
{
	uint64		h = key->nulls;
	int			i;

	for (i = 0; i < nkeys; i++)
		h = hash_combine64(h, mix64((uint64) key->values[i]));
	return (uint32) (h ^ (h >> 32));
}

/*
 * One representation per value: a Datum of a narrow type may carry any
 * bits above the value, depending on who made it.
 */
static inline Datum
canonical_datum(GroupTable *table, int i, Datum value)
{
	switch (table->typlen[i])
	{
		case 1:
			return table->isbool[i] ? BoolGetDatum(DatumGetBool(value)) :
				CharGetDatum(DatumGetChar(value));
		case 2:
			return Int16GetDatum(DatumGetInt16(value));
		case 4:
			return Int32GetDatum(DatumGetInt32(value));
		default:
			return value;
	}
}

bool
group_table_binary_keys(TupleDesc keydesc, const Oid *eqops)
{
	int			i;

	if (keydesc->natts > BINARY_KEYS_MAX)
		return false;
	for (i = 0; i < keydesc->natts; i++)
	{
		Oid			type = TupleDescAttr(keydesc, i)->atttypid;

		switch (type)
		{
			case BOOLOID:
			case CHAROID:
			case INT2OID:
			case INT4OID:
			case INT8OID:
			case OIDOID:
			case DATEOID:
			case TIMEOID:
			case TIMESTAMPOID:
			case TIMESTAMPTZOID:
				break;
			default:
				return false;
		}
		/* grouped by the type's own equality, not some other operator */
		if (eqops[i] != lookup_type_cache(type, TYPECACHE_EQ_OPR)->eq_opr)
			return false;
	}
	return true;
}

GroupTable *
group_table_create(TupleDesc keydesc, TupleHashTable tuples, MemoryContext cxt)
{
	GroupTable *table = MemoryContextAllocZero(cxt, sizeof(GroupTable));
	int			i;

	table->tuples = tuples;
	table->nkeys = keydesc->natts;
	if (tuples)
	{
		table->keys = MakeSingleTupleTableSlot(keydesc, &TTSOpsVirtual);
		table->out = MakeSingleTupleTableSlot(keydesc, &TTSOpsMinimalTuple);
	}
	else
	{
		Assert(table->nkeys <= BINARY_KEYS_MAX);
		for (i = 0; i < table->nkeys; i++)
		{
			Form_pg_attribute attr = TupleDescAttr(keydesc, i);

			Assert(attr->attbyval);
			table->typlen[i] = attr->attlen;
			table->isbool[i] = attr->atttypid == BOOLOID;
		}
		table->binary = binary_groups_create(cxt, GROUP_TABLE_MIN_SIZE, table);
		table->out = MakeSingleTupleTableSlot(keydesc, &TTSOpsVirtual);
	}
	return table;
}

void
group_table_destroy(GroupTable *table)
{
	ExecDropSingleTupleTableSlot(table->out);
	if (table->keys)
		ExecDropSingleTupleTableSlot(table->keys);
	if (table->binary)
		binary_groups_destroy(table->binary);
	pfree(table);
}

/*
 * Emptied for the next batch.  The buckets stay, as the next batch is
 * likely to need as many; but a table that grew for a batch with eight
 * times the groups of this one is made anew at this one's size, so that a
 * burst does not keep its memory (counted against continuous.state_memory,
 * worker_memory.c) for good.  PostgreSQL's TupleHashTable, for keys not
 * compared as bits, keeps its buckets.
 */
void
group_table_reset(GroupTable *table)
{
	if (table->tuples)
		ResetTupleHashTable(table->tuples);
	else if (table->binary->size > GROUP_TABLE_SHRINK_FACTOR *
			 Max((uint64) table->binary->members, GROUP_TABLE_MIN_SIZE))
	{
		MemoryContext cxt = table->binary->ctx;
		uint32		members = Max(table->binary->members, GROUP_TABLE_MIN_SIZE);

		binary_groups_destroy(table->binary);
		table->binary = binary_groups_create(cxt, members, table);
	}
	else
		binary_groups_reset(table->binary);
}

int64
group_table_count(GroupTable *table)
{
	if (table->tuples)
		return (int64) table->tuples->hashtab->members;
	return (int64) table->binary->members;
}

struct GroupStates **
group_table_lookup(GroupTable *table, const Datum *values, const bool *isnull,
				   bool *isnew)
{
	BinaryKey	key;
	BinaryEntry *entry;
	bool		found;
	int			i;

	if (table->tuples)
	{
		TupleTableSlot *keys = table->keys;
		TupleHashEntry tuple_entry;

		ExecClearTuple(keys);
		memcpy(keys->tts_values, values, sizeof(Datum) * table->nkeys);
		memcpy(keys->tts_isnull, isnull, sizeof(bool) * table->nkeys);
		ExecStoreVirtualTuple(keys);
		tuple_entry = LookupTupleHashEntry(table->tuples, keys, isnew, NULL);
		return (struct GroupStates **) &tuple_entry->additional;
	}

	memset(&key, 0, sizeof(key));
	for (i = 0; i < table->nkeys; i++)
	{
		if (isnull[i])
			key.nulls |= 1 << i;
		else
			key.values[i] = canonical_datum(table, i, values[i]);
	}
	entry = binary_groups_insert(table->binary, key, &found);
	if (!found)
		entry->states = NULL;
	*isnew = !found;
	return &entry->states;
}

void
group_table_begin(GroupTable *table, GroupTableIterator *iter)
{
	if (table->tuples)
		InitTupleHashIterator(table->tuples, &iter->tuples);
	iter->next = 0;
}

bool
group_table_next(GroupTable *table, GroupTableIterator *iter,
				 TupleTableSlot **keys, struct GroupStates **states)
{
	TupleTableSlot *out = table->out;
	int			i;

	if (table->tuples)
	{
		TupleHashEntry entry = ScanTupleHashTable(table->tuples, &iter->tuples);

		if (entry == NULL)
			return false;
		ExecStoreMinimalTuple(entry->firstTuple, out, false);
		slot_getallattrs(out);
		*keys = out;
		*states = entry->additional;
		return true;
	}

	while (iter->next < table->binary->size)
	{
		BinaryEntry *entry = &table->binary->data[iter->next++];

		if (entry->status != binary_groups_SH_IN_USE)
			continue;
		ExecClearTuple(out);
		for (i = 0; i < table->nkeys; i++)
		{
			out->tts_values[i] = entry->key.values[i];
			out->tts_isnull[i] = (entry->key.nulls & (1 << i)) != 0;
		}
		ExecStoreVirtualTuple(out);
		*keys = out;
		*states = entry->states;
		return true;
	}
	return false;
}
