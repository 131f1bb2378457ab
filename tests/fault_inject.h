/*
 * Host-memory fault injection for tests (tests/fault_inject.c).
 *
 * Only a test program linked with the linker's --wrap options for the
 * allocation functions (cmake/parts/fault.cmake) has this hook: the
 * library itself is compiled exactly as it ships, and the installed
 * libraries never carry it. Every call the library (and the test) makes
 * to malloc, calloc, realloc, aligned_alloc, posix_memalign, strdup and
 * strndup goes through a wrapper that counts it and, when armed, makes
 * the Nth one fail as an exhausted heap would (NULL, or ENOMEM for
 * posix_memalign). Allocations made inside other shared libraries (libc's
 * own stdio, OpenBLAS, the OpenMP runtime) are not seen.
 */
#ifndef CT_FAULT_INJECT_H
#define CT_FAULT_INJECT_H

#include <stdbool.h>

/* Starts counting allocations from 0; the nth one (1-based) fails, and
 * with `sticky` every later one fails too. nth == 0 only counts. */
void ct_fault_arm(long nth, bool sticky);
/* Stops failing; returns the number of allocations counted since arm. */
long ct_fault_disarm(void);
/* Whether the armed failure happened, and the return address of the
 * allocation call that failed (its site in the library). */
bool ct_fault_fired(void);
const void *ct_fault_site(void);

#endif
