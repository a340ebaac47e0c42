/*-------------------------------------------------------------------------
 *
 * sync.h
 *	  Waiting for the database worker (sync.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_H
#define SYNC_H

#include "postgres.h"

#include "access/xlogdefs.h"

extern void continuous_wait_for_decoder(void);
/* Until every transaction committed so far is applied. */
extern XLogRecPtr continuous_wait_for_worker(const char *caller);

#endif							/* SYNC_H */
