/*-------------------------------------------------------------------------
 *
 * stage_registry.h
 *	  The operator stages of continuous views, composed into each view's
 *	  pipeline.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_STAGE_REGISTRY_H
#define CONTINUOUS_STAGE_REGISTRY_H

#include "exec/stage.h"

/*
 * batch.c, as a view is loaded: the stages its plan has, in pipeline
 * order, each with its private state (Stage), in CurrentMemoryContext.
 */
extern List *stage_registry_compose(ViewRuntime *vr);

/* Their names in order, for the server log: "filter, partial aggregate". */
extern char *stage_registry_describe(List *stages);

#endif							/* CONTINUOUS_STAGE_REGISTRY_H */
