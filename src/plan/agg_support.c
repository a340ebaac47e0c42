/*-------------------------------------------------------------------------
 *
 * agg_support.c
 *	  An aggregate's transition, combine, serialisation and final functions,
 *	  called outside the executor's Agg node.
 *
 * Pipeline position: state.  stage_aggregate.c advances transition states
 * per event, flush.c combines them with the states stored in a view's
 * storage table and writes them back serialised, and finalize.c turns a stored state into the
 * aggregate's result when the view is read.  The rules follow nodeAgg.c:
 * strict transition functions start from the first non-null input when the
 * initial value is NULL, by-reference states are copied into the aggregate
 * memory context, and support functions find that context through
 * AggCheckCallContext(), for which a bare AggState node stands in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_type.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "parser/parse_agg.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/expandeddatum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "plan/agg_support.h"

static void agg_support_init(AggSupport *agg, Oid aggfnoid, Oid *inputTypes,
							 int numInputs, bool variadic, Oid resulttype,
							 Oid transtype_hint, Oid inputcollid);
static Datum agg_reparent(AggSupport *agg, Datum newval, bool newnull,
						  Datum oldval, bool oldnull);

const char *
agg_support_unsupported_reason(Oid aggfnoid)
{
	HeapTuple	tuple;
	Form_pg_aggregate aggform;
	const char *reason = NULL;

	tuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
	aggform = (Form_pg_aggregate) GETSTRUCT(tuple);

	if (aggform->aggkind != AGGKIND_NORMAL)
		reason = "it is an ordered-set aggregate";
	else if (!OidIsValid(aggform->aggcombinefn))
		reason = "it has no combine function";
	else if (aggform->aggtranstype == INTERNALOID &&
			 (!OidIsValid(aggform->aggserialfn) ||
			  !OidIsValid(aggform->aggdeserialfn)))
		reason = "its transition state of type internal has no serialization functions";

	ReleaseSysCache(tuple);
	return reason;
}

AggSupport *
agg_support_create(Aggref *aggref)
{
	AggSupport *agg = palloc0(sizeof(AggSupport));
	Oid			inputTypes[FUNC_MAX_ARGS];
	int			numInputs;

	numInputs = get_aggregate_argtypes(aggref, inputTypes);
	agg_support_init(agg, aggref->aggfnoid, inputTypes, numInputs,
					 aggref->aggvariadic, aggref->aggtype, InvalidOid,
					 aggref->inputcollid);
	return agg;
}

/*
 * For finalize.c, which knows the aggregate, its result type and the type of
 * the stored state, but not the original argument types.  Those matter only
 * to polymorphic support functions; the declared ones stand in.
 */
AggSupport *
agg_support_create_by_oid(Oid aggfnoid, Oid resulttype, Oid storage_type,
						  Oid inputcollid)
{
	AggSupport *agg = palloc0(sizeof(AggSupport));
	Oid		   *declared;
	int			numInputs;

	(void) get_func_signature(aggfnoid, &declared, &numInputs);
	agg_support_init(agg, aggfnoid, declared, numInputs, false, resulttype,
					 storage_type == BYTEAOID ? InvalidOid : storage_type,
					 inputcollid);
	return agg;
}

static void
agg_support_init(AggSupport *agg, Oid aggfnoid, Oid *inputTypes, int numInputs,
				 bool variadic, Oid resulttype, Oid transtype_hint,
				 Oid inputcollid)
{
	HeapTuple	tuple;
	Form_pg_aggregate aggform;
	Datum		textInitVal;
	bool		initIsNull;
	Expr	   *expr;
	const char *reason;

	reason = agg_support_unsupported_reason(aggfnoid);
	if (reason)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("aggregate %s cannot be maintained continuously",
						format_procedure(aggfnoid)),
				 errdetail("The aggregate cannot be computed incrementally because %s.",
						   reason)));

	tuple = SearchSysCache1(AGGFNOID, ObjectIdGetDatum(aggfnoid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for aggregate %u", aggfnoid);
	aggform = (Form_pg_aggregate) GETSTRUCT(tuple);

	agg->aggfnoid = aggfnoid;
	agg->resulttype = resulttype;
	agg->collation = inputcollid;
	agg->numTransInputs = numInputs;

	if (IsPolymorphicType(aggform->aggtranstype) && OidIsValid(transtype_hint))
		agg->transtype = transtype_hint;
	else
		agg->transtype = resolve_aggregate_transtype(aggfnoid,
													 aggform->aggtranstype,
													 inputTypes, numInputs);
	get_typlenbyval(agg->transtype, &agg->transtyplen, &agg->transtypbyval);
	agg->storage_type = agg->transtype == INTERNALOID ? BYTEAOID : agg->transtype;

	build_aggregate_transfn_expr(inputTypes, numInputs, 0, variadic,
								 agg->transtype, inputcollid,
								 aggform->aggtransfn, InvalidOid,
								 &expr, NULL);
	fmgr_info(aggform->aggtransfn, &agg->transfn);
	fmgr_info_set_expr((Node *) expr, &agg->transfn);

	/* the combine function takes two states: build it like a transfn */
	build_aggregate_transfn_expr(&agg->transtype, 1, 0, false,
								 agg->transtype, inputcollid,
								 aggform->aggcombinefn, InvalidOid,
								 &expr, NULL);
	fmgr_info(aggform->aggcombinefn, &agg->combinefn);
	fmgr_info_set_expr((Node *) expr, &agg->combinefn);

	if (agg->transtype == INTERNALOID)
	{
		build_aggregate_serialfn_expr(aggform->aggserialfn, &expr);
		fmgr_info(aggform->aggserialfn, &agg->serialfn);
		fmgr_info_set_expr((Node *) expr, &agg->serialfn);

		build_aggregate_deserialfn_expr(aggform->aggdeserialfn, &expr);
		fmgr_info(aggform->aggdeserialfn, &agg->deserialfn);
		fmgr_info_set_expr((Node *) expr, &agg->deserialfn);
	}

	if (OidIsValid(aggform->aggfinalfn))
	{
		agg->numFinalArgs = aggform->aggfinalextra ? numInputs + 1 : 1;
		build_aggregate_finalfn_expr(inputTypes, agg->numFinalArgs,
									 agg->transtype, resulttype, inputcollid,
									 aggform->aggfinalfn, &expr);
		fmgr_info(aggform->aggfinalfn, &agg->finalfn);
		fmgr_info_set_expr((Node *) expr, &agg->finalfn);
	}

	textInitVal = SysCacheGetAttr(AGGFNOID, tuple,
								  Anum_pg_aggregate_agginitval, &initIsNull);
	agg->initValueIsNull = initIsNull;
	if (!initIsNull)
	{
		Oid			typinput;
		Oid			typioparam;
		char	   *str = TextDatumGetCString(textInitVal);

		getTypeInputInfo(agg->transtype, &typinput, &typioparam);
		agg->initValue = OidInputFunctionCall(typinput, str, typioparam, -1);
		pfree(str);
	}
	ReleaseSysCache(tuple);

	agg->callcontext = makeNode(AggState);
	agg->econtext = makeNode(ExprContext);
	agg->callcontext->curaggcontext = agg->econtext;
	agg->econtext->ecxt_per_tuple_memory = CurrentMemoryContext;
}

void
agg_support_set_context(AggSupport *agg, MemoryContext cxt)
{
	agg->econtext->ecxt_per_tuple_memory = cxt;
}

Datum
agg_initial_state(AggSupport *agg, bool *isnull)
{
	MemoryContext oldcxt;
	Datum		state;

	*isnull = agg->initValueIsNull;
	if (agg->initValueIsNull)
		return (Datum) 0;
	oldcxt = MemoryContextSwitchTo(agg->econtext->ecxt_per_tuple_memory);
	state = datumCopy(agg->initValue, agg->transtypbyval, agg->transtyplen);
	MemoryContextSwitchTo(oldcxt);
	return state;
}

Datum
agg_advance(AggSupport *agg, Datum state, bool *isnull,
			Datum *args, bool *argnulls)
{
	LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
	Datum		newval;
	int			i;

	if (agg->transfn.fn_strict)
	{
		for (i = 0; i < agg->numTransInputs; i++)
			if (argnulls[i])
				return state;
		if (*isnull)
		{
			/* the first non-null input becomes the state, as in nodeAgg.c */
			if (!agg->initValueIsNull)
				return state;
			*isnull = false;
			return agg_reparent(agg, args[0], false, (Datum) 0, true);
		}
	}

	InitFunctionCallInfoData(*fcinfo, &agg->transfn, agg->numTransInputs + 1,
							 agg->collation, (Node *) agg->callcontext, NULL);
	fcinfo->args[0].value = state;
	fcinfo->args[0].isnull = *isnull;
	for (i = 0; i < agg->numTransInputs; i++)
	{
		fcinfo->args[i + 1].value = args[i];
		fcinfo->args[i + 1].isnull = argnulls[i];
	}
	newval = FunctionCallInvoke(fcinfo);

	if (!agg->transtypbyval && DatumGetPointer(newval) != DatumGetPointer(state))
		newval = agg_reparent(agg, newval, fcinfo->isnull, state, *isnull);
	*isnull = fcinfo->isnull;
	return newval;
}

Datum
agg_combine(AggSupport *agg, Datum a, bool *a_isnull, Datum b, bool b_isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	Datum		newval;

	if (agg->combinefn.fn_strict)
	{
		if (b_isnull)
			return a;
		if (*a_isnull)
		{
			*a_isnull = false;
			if (agg->transtypbyval)
				return b;
			return agg_reparent(agg, b, false, (Datum) 0, true);
		}
	}

	InitFunctionCallInfoData(*fcinfo, &agg->combinefn, 2,
							 agg->collation, (Node *) agg->callcontext, NULL);
	fcinfo->args[0].value = a;
	fcinfo->args[0].isnull = *a_isnull;
	fcinfo->args[1].value = b;
	fcinfo->args[1].isnull = b_isnull;
	newval = FunctionCallInvoke(fcinfo);

	if (!agg->transtypbyval && DatumGetPointer(newval) != DatumGetPointer(a))
		newval = agg_reparent(agg, newval, fcinfo->isnull, a, *a_isnull);
	*a_isnull = fcinfo->isnull;
	return newval;
}

Datum
agg_to_storage(AggSupport *agg, Datum state, bool isnull)
{
	LOCAL_FCINFO(fcinfo, 1);
	Datum		result;

	if (isnull || agg->transtype != INTERNALOID)
		return state;

	InitFunctionCallInfoData(*fcinfo, &agg->serialfn, 1, InvalidOid,
							 (Node *) agg->callcontext, NULL);
	fcinfo->args[0].value = state;
	fcinfo->args[0].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "serialization function %u returned NULL",
			 agg->serialfn.fn_oid);
	return result;
}

Datum
agg_from_storage(AggSupport *agg, Datum stored, bool isnull)
{
	LOCAL_FCINFO(fcinfo, 2);
	MemoryContext oldcxt;
	Datum		result;

	if (isnull)
		return (Datum) 0;

	if (agg->transtype != INTERNALOID)
	{
		/* a by-reference state must be private and in the aggregate context */
		oldcxt = MemoryContextSwitchTo(agg->econtext->ecxt_per_tuple_memory);
		if (agg->transtyplen == -1)
			result = PointerGetDatum(PG_DETOAST_DATUM_COPY(stored));
		else
			result = datumCopy(stored, agg->transtypbyval, agg->transtyplen);
		MemoryContextSwitchTo(oldcxt);
		return result;
	}

	/*
	 * A serialised state of more than about 2 kB is compressed or moved out
	 * of line in storage.  Deserialisation functions expect what the
	 * serialisation function returned (nodeAgg.c only ever hands them that),
	 * and some read the bytes without detoasting: give them plain bytes.
	 */
	oldcxt = MemoryContextSwitchTo(agg->econtext->ecxt_per_tuple_memory);
	stored = PointerGetDatum(PG_DETOAST_DATUM(stored));
	MemoryContextSwitchTo(oldcxt);

	InitFunctionCallInfoData(*fcinfo, &agg->deserialfn, 2, InvalidOid,
							 (Node *) agg->callcontext, NULL);
	fcinfo->args[0].value = stored;
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = (Datum) 0;
	fcinfo->args[1].isnull = false;
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		elog(ERROR, "deserialization function %u returned NULL",
			 agg->deserialfn.fn_oid);
	return result;
}

Datum
agg_finalize(AggSupport *agg, Datum state, bool state_isnull, bool *isnull)
{
	LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
	Datum		result;
	int			i;

	if (!OidIsValid(agg->finalfn.fn_oid))
	{
		*isnull = state_isnull;
		return state;
	}
	if (agg->finalfn.fn_strict && state_isnull)
	{
		*isnull = true;
		return (Datum) 0;
	}

	InitFunctionCallInfoData(*fcinfo, &agg->finalfn, agg->numFinalArgs,
							 agg->collation, (Node *) agg->callcontext, NULL);
	fcinfo->args[0].value = state;
	fcinfo->args[0].isnull = state_isnull;
	/* extra arguments of aggfinalextra aggregates are always NULL */
	for (i = 1; i < agg->numFinalArgs; i++)
	{
		fcinfo->args[i].value = (Datum) 0;
		fcinfo->args[i].isnull = true;
	}
	result = FunctionCallInvoke(fcinfo);
	*isnull = fcinfo->isnull;
	return result;
}

/*
 * Move a new by-reference state into the aggregate context and free the old
 * one, as nodeAgg.c's ExecAggTransReparent() does.
 */
static Datum
agg_reparent(AggSupport *agg, Datum newval, bool newnull,
			 Datum oldval, bool oldnull)
{
	MemoryContext aggcxt = agg->econtext->ecxt_per_tuple_memory;

	if (agg->transtypbyval)
		return newval;

	if (!newnull)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(aggcxt);

		if (DatumIsReadWriteExpandedObject(newval, false, agg->transtyplen) &&
			MemoryContextGetParent(DatumGetEOHP(newval)->eoh_context) == aggcxt)
			 /* already owned by the aggregate context */ ;
		else
			newval = datumCopy(newval, agg->transtypbyval, agg->transtyplen);
		MemoryContextSwitchTo(oldcxt);
	}
	if (!oldnull)
	{
		if (DatumIsReadWriteExpandedObject(oldval, false, agg->transtyplen))
			DeleteExpandedObject(oldval);
		else
			pfree(DatumGetPointer(oldval));
	}
	return newval;
}
