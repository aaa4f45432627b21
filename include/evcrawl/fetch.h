/*
 * Everything about fetching one URL, in one include: the options
 * (options.h), the result record (result.h) and the blocking fetcher
 * (fetcher.h). Kept for programs written against evcrawl 0.1, where these
 * were one header.
 */
#ifndef EVCRAWL_FETCH_H
#define EVCRAWL_FETCH_H

#include "options.h"
#include "result.h"
#include "fetcher.h"

#endif
