/*-------------------------------------------------------------------------
 *
 * agg_support.h
 *	  Calling an aggregate's support functions outside the executor's Agg node.
 *
 * Continuous views keep aggregates as transition states: advanced per event
 * in the worker (stage_aggregate.c), combined into stored state at flush (flush.c),
 * serialised into storage columns, and finalised when a view is read
 * (finalize.c).  All of that goes through pg_aggregate's functions here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_AGG_SUPPORT_H
#define CONTINUOUS_AGG_SUPPORT_H

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "nodes/primnodes.h"

typedef struct AggSupport
{
	Oid			aggfnoid;
	Oid			transtype;		/* resolved, never polymorphic */
	int16		transtyplen;
	bool		transtypbyval;
	Oid			storage_type;	/* transtype, or BYTEAOID for internal */
	Oid			resulttype;

	int			numTransInputs; /* transfn args after the state */
	int			numFinalArgs;	/* finalfn args, including the state */

	FmgrInfo	transfn;
	FmgrInfo	combinefn;
	FmgrInfo	serialfn;		/* valid only when transtype is internal */
	FmgrInfo	deserialfn;
	FmgrInfo	finalfn;		/* fn_oid invalid when there is none */
	Oid			collation;		/* input collation of the calls */

	bool		initValueIsNull;
	Datum		initValue;		/* in the long-lived context */

	/*
	 * Support functions check AggCheckCallContext() and allocate their
	 * states in the "aggregate context" it returns; this node stands in for
	 * the executor's AggState.  Set the memory context with
	 * agg_support_set_context() before calls.
	 */
	AggState   *callcontext;
	ExprContext *econtext;
} AggSupport;

/*
 * Why an aggregate cannot be kept as continuous state, or NULL if it can.
 * ddl_view.c reports this at CREATE time.
 */
extern const char *agg_support_unsupported_reason(Oid aggfnoid);

/* Look up support functions; allocated in CurrentMemoryContext. */
extern AggSupport *agg_support_create(Aggref *aggref);
extern AggSupport *agg_support_create_by_oid(Oid aggfnoid, Oid resulttype,
											 Oid storage_type, Oid inputcollid);

/* Memory context that receives transition states of the next calls. */
extern void agg_support_set_context(AggSupport *agg, MemoryContext cxt);

/* A fresh transition state (copy of the initial value). */
extern Datum agg_initial_state(AggSupport *agg, bool *isnull);

/*
 * Advance a state by one row's arguments, with nodeAgg.c's strictness rules.
 * args/argnulls have numTransInputs entries.
 */
extern Datum agg_advance(AggSupport *agg, Datum state, bool *isnull,
						 Datum *args, bool *argnulls);

/* Merge state b into state a; returns the merged state. */
extern Datum agg_combine(AggSupport *agg, Datum a, bool *a_isnull,
						 Datum b, bool b_isnull);

/* State to the value stored in its storage column, and back. */
extern Datum agg_to_storage(AggSupport *agg, Datum state, bool isnull);
extern Datum agg_from_storage(AggSupport *agg, Datum stored, bool isnull);

/* The aggregate's result from a state. */
extern Datum agg_finalize(AggSupport *agg, Datum state, bool state_isnull,
						  bool *isnull);

#endif							/* CONTINUOUS_AGG_SUPPORT_H */
