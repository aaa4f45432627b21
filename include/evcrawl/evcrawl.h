/*
 * evcrawl: a concurrent HTTP crawler library in C, on its own event loop.
 *
 *   loop.h      the event loop: fd watchers and timers (epoll, poll, select)
 *   resolver.h  asynchronous DNS on the loop (c-ares), with a cache
 *   fetch.h     options, the result record, and a blocking one-URL fetcher
 *   crawler.h   the crawler: many URLs at once on a loop
 *   error.h     error codes and evc_strerror()
 *   version.h   EVC_VERSION_* and evc_version()
 *
 * Build against it with `pkg-config --cflags --libs evcrawl`.
 */
#ifndef EVCRAWL_H
#define EVCRAWL_H

#include "version.h"
#include "error.h"
#include "loop.h"
#include "resolver.h"
#include "fetch.h"
#include "crawler.h"

#endif
