/*-------------------------------------------------------------------------
 *
 * utility_hook.h
 *	  pg_continuous's ProcessUtility hook (utility_hook.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONTINUOUS_UTILITY_HOOK_H
#define CONTINUOUS_UTILITY_HOOK_H

/* _PG_init: the hook, in front of those installed before. */
extern void utility_hook_install(void);

#endif							/* CONTINUOUS_UTILITY_HOOK_H */
