/*-------------------------------------------------------------------------
 *
 * finalize.c
 *	  continuous.finalize(aggregate, state, result): an aggregate's value
 *	  from the transition state kept in a storage table.
 *
 * Pipeline position: view, the last step.  The worker keeps each aggregate
 * as its transition state (serialised when the state type is internal); the
 * user-facing view over the storage table calls this function once per
 * aggregate and row to apply the final function, so readers see exactly
 * what the aggregate would have returned over the same events.
 *
 * The third argument is always NULL; its type is the aggregate's result
 * type, which the function returns (anyelement) and needs to know.
 *
 * Any role can call the function with arguments of its choice, so before
 * handing a value to support functions that trust their input, it checks
 * that the state and result types are the ones the aggregate really has.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "plan/agg_support.h"

PG_FUNCTION_INFO_V1(continuous_finalize);

/* Per call site, in fn_mcxt: valid while the aggregate stays the same. */
typedef struct FinalizeCache
{
	Oid			aggfnoid;
	Oid			statetype;
	Oid			resulttype;
	AggSupport *agg;
	int16		resulttyplen;
	bool		resulttypbyval;
	MemoryContext callcxt;		/* reset after every call */
} FinalizeCache;

static FinalizeCache *finalize_cache(FunctionCallInfo fcinfo, Oid aggfnoid,
									 Oid statetype, Oid resulttype);
static void check_finalize_types(AggSupport *agg, Oid statetype,
								 Oid resulttype);

Datum
continuous_finalize(PG_FUNCTION_ARGS)
{
	Oid			statetype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	Oid			resulttype = get_fn_expr_rettype(fcinfo->flinfo);
	FinalizeCache *cache;
	MemoryContext callercxt;
	Datum		state;
	Datum		result;
	bool		isnull;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	if (!OidIsValid(statetype) || !OidIsValid(resulttype))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_DATATYPE),
				 errmsg("could not determine the state and result types of continuous.finalize()")));

	cache = finalize_cache(fcinfo, PG_GETARG_OID(0), statetype, resulttype);

	/*
	 * Deserialisation and final functions may allocate freely; only the
	 * result, copied into the caller's context, outlives the call.
	 */
	callercxt = MemoryContextSwitchTo(cache->callcxt);
	state = agg_from_storage(cache->agg, PG_GETARG_DATUM(1), PG_ARGISNULL(1));
	result = agg_finalize(cache->agg, state, PG_ARGISNULL(1), &isnull);
	MemoryContextSwitchTo(callercxt);

	if (!isnull)
		result = datumCopy(result, cache->resulttypbyval, cache->resulttyplen);
	MemoryContextReset(cache->callcxt);

	if (isnull)
		PG_RETURN_NULL();
	return result;
}

static FinalizeCache *
finalize_cache(FunctionCallInfo fcinfo, Oid aggfnoid, Oid statetype,
			   Oid resulttype)
{
	FinalizeCache *cache = (FinalizeCache *) fcinfo->flinfo->fn_extra;
	MemoryContext oldcxt;

	if (cache != NULL && cache->aggfnoid == aggfnoid &&
		cache->statetype == statetype && cache->resulttype == resulttype)
		return cache;

	if (!SearchSysCacheExists1(AGGFNOID, ObjectIdGetDatum(aggfnoid)))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("function with OID %u is not an aggregate", aggfnoid)));

	oldcxt = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (cache == NULL)
	{
		cache = palloc0(sizeof(FinalizeCache));
		cache->callcxt = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
											   "continuous.finalize",
											   ALLOCSET_SMALL_SIZES);
		fcinfo->flinfo->fn_extra = cache;
	}
	cache->aggfnoid = InvalidOid;	/* invalid until fully built */
	cache->agg = agg_support_create_by_oid(aggfnoid, resulttype, statetype,
										   PG_GET_COLLATION());
	agg_support_set_context(cache->agg, cache->callcxt);
	MemoryContextSwitchTo(oldcxt);

	check_finalize_types(cache->agg, statetype, resulttype);

	get_typlenbyval(resulttype, &cache->resulttyplen, &cache->resulttypbyval);
	cache->statetype = statetype;
	cache->resulttype = resulttype;
	cache->aggfnoid = aggfnoid;
	return cache;
}

/*
 * The stored state must be of the aggregate's storage type, and the result
 * type must be the one the aggregate returns for that state; otherwise the
 * support functions would read a datum as something it is not.
 */
static void
check_finalize_types(AggSupport *agg, Oid statetype, Oid resulttype)
{
	HeapTuple	tuple;
	Oid			declared_transtype;
	Oid			declared_rettype = get_func_rettype(agg->aggfnoid);
	Oid			expected;

	if (statetype != agg->storage_type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("state of aggregate %s must be of type %s, not %s",
						format_procedure(agg->aggfnoid),
						format_type_be(agg->storage_type),
						format_type_be(statetype))));

	tuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(agg->aggfnoid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for aggregate %u", agg->aggfnoid);
	declared_transtype = ((Form_pg_aggregate) GETSTRUCT(tuple))->aggtranstype;
	ReleaseSysCache(tuple);

	if (!IsPolymorphicType(declared_rettype))
		expected = declared_rettype;
	else if (IsPolymorphicType(declared_transtype))
		expected = enforce_generic_type_consistency(&agg->transtype,
													&declared_transtype, 1,
													declared_rettype, false);
	else
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot determine the result type of aggregate %s from its state",
						format_procedure(agg->aggfnoid))));

	if (resulttype != expected)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("result of aggregate %s is of type %s, not %s",
						format_procedure(agg->aggfnoid),
						format_type_be(expected),
						format_type_be(resulttype))));
}
