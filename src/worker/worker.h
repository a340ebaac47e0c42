/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The entry point of a database worker (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKER_H
#define WORKER_H

#include "postgres.h"

extern PGDLLEXPORT void continuous_worker_main(Datum arg);

#endif							/* WORKER_H */
