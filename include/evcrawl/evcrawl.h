/*
 * evcrawl: a concurrent HTTP crawler library in C, on its own event loop.
 *
 *   loop.h      the event loop: fd watchers and timers (epoll, poll, select)
 *   resolver.h  asynchronous DNS on the loop (c-ares), with a cache
 *   options.h   what a fetch may do: evc_crawl_opts_t
 *   result.h    the result record of one URL, and its JSON
 *   fetcher.h   a blocking one-URL fetcher (the classic I/O models)
 *   crawler.h   the crawler: many URLs at once on a loop
 *   robots.h    robots.txt (RFC 9309): parse, and may this URL be fetched
 *   cookies.h   a cookie jar to share between engines; Netscape cookie files
 *   fetch.h     options.h + result.h + fetcher.h in one include
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
#include "options.h"
#include "result.h"
#include "fetcher.h"
#include "crawler.h"
#include "robots.h"
#include "cookies.h"

#endif
