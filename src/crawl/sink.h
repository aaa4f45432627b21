/*
 * Where bodies go when they are kept: files under an output directory,
 * DIR/HOST/path, named by evc__url_save_path(). Bodies are written as they
 * stream in; a body that ends in an error is removed again.
 */
#ifndef EVC_SINK_H
#define EVC_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/url.h"

struct evc__file_sink {
	int fd;		 /* -1 when closed */
	char *path;	 /* malloc'd, relative to the output dir's parent as given */
	const char *dir; /* the output dir (not owned) */
	char *tmp;	 /* replacing an earlier run's file: written here first */
	uint64_t claim;	 /* the name this fetch is writing (see claim()), 0: none */
	bool not_ours;	 /* a replacement failed: path is the earlier run's file */
};

/**
 * Create the file for u under dir (directories made as needed), never
 * through a symbolic link inside dir (one is a name that is taken). A name that
 * is taken (a second URL mapping to it, a directory of that name, or a
 * file where a directory is needed) gets "~" and 8 hex digits of the URL's
 * hash, then ".1", ".2", ... : the same inputs always give the same names.
 * A regular file there from before `since` (Unix time: an earlier run's;
 * since 0: never)
 * is replaced instead: the body goes to a temporary name beside it and is
 * renamed over it by a successful close, so a re-run leaves one file per
 * URL, never a half-written one.
 * Returns 0, or -errno.
 */
int evc__sink_open(struct evc__file_sink *s, const char *dir, const struct evc__url *u,
		   double since);

/**
 * Whether u's file already exists under dir (a regular file, found without
 * following links or making directories): 1 with *path malloc'd, else 0.
 */
int evc__sink_exists(const char *dir, const struct evc__url *u, char **path);

/** Write all of data. Returns 0 or -errno. */
int evc__sink_write(struct evc__file_sink *s, const char *data, size_t len);

/**
 * Close; with discard also remove the file and free path (else path stays
 * for the record). Returns 0, or -errno when close() failed: the data may
 * not all be on disk (a full disk, a network file system), so the caller
 * reports it and discards the file. Closing again is harmless without
 * discard; with discard it removes the file whatever the first close did.
 */
int evc__sink_close(struct evc__file_sink *s, int discard);

#endif
