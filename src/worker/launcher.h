/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  The launcher of the database workers (launcher.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef LAUNCHER_H
#define LAUNCHER_H

#include "postgres.h"

extern void continuous_launcher_register(void);
extern PGDLLEXPORT void continuous_launcher_main(Datum arg);
extern void continuous_launcher_wakeup(void);
extern bool continuous_pause_database(Oid dboid);
extern void continuous_resume_database(Oid dboid);

#endif							/* LAUNCHER_H */
