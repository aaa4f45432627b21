/* Body files under the output directory (see sink.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crawl/sink.h"

/*
 * Saving never leaves the output directory. The path under it is walked one
 * component at a time with openat(O_NOFOLLOW) and the file created with
 * O_CREAT|O_EXCL|O_NOFOLLOW, so a symbolic link already inside the directory
 * (planted by a page saved earlier, or by anyone) is never followed: it
 * counts as a name that is taken. Only the output directory itself may be a
 * link, as the user named it.
 */

/* The directory `name` under dirfd, made if missing; never through a
 * link. Returns an fd, or -errno (-ENOTDIR / -ELOOP: something else is
 * there). */
static int enter_dir(int dirfd, const char *name)
{
	for (int tries = 0; tries < 2; tries++) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT)
			return errno == ELOOP ? -ENOTDIR : -errno;
		if (mkdirat(dirfd, name, 0755) < 0 && errno != EEXIST)
			return -errno;
	}
	return -ENOTDIR;
}

static int create_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	return fd >= 0 ? fd : -errno;
}

/*
 * Walk rel (in place: its '/' are cut and restored) from dirfd down to the
 * directory that holds its last component. Returns that directory's fd (the
 * caller closes it) and points *leaf at the name to create there. When a
 * component on the way is not a directory (a file, a link), the walk stops
 * there and *leaf is that component, so the caller names the file after it.
 */
static int walk(int dirfd, char *rel, char **leaf)
{
	int cur = dup(dirfd);
	if (cur < 0)
		return -errno;
	char *name = rel;
	for (char *slash = strchr(name, '/'); slash; slash = strchr(name, '/')) {
		*slash = '\0';
		int next = enter_dir(cur, name);
		*slash = '/';
		if (next == -ENOTDIR || next == -EEXIST)
			break; /* the file goes next to what is in the way */
		if (next < 0) {
			close(cur);
			return next;
		}
		close(cur);
		cur = next;
		name = slash + 1;
	}
	*leaf = name;
	return cur;
}

/*
 * Names being written now, by any fetch of this process: a second URL that
 * maps onto one while its body is still coming must not take it (the file
 * on disk does not show it yet, or shows the earlier run's). By hash of the
 * whole path; few at a time, so a plain array.
 */
static pthread_mutex_t claims_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *claims;
static size_t nclaims, claims_cap;

static bool claim(uint64_t h)
{
	bool ok = true;
	pthread_mutex_lock(&claims_lock);
	for (size_t i = 0; i < nclaims && ok; i++)
		ok = claims[i] != h;
	if (ok && nclaims == claims_cap) {
		size_t cap = claims_cap ? claims_cap * 2 : 64;
		uint64_t *c = realloc(claims, cap * sizeof *c);
		if (c) {
			claims = c;
			claims_cap = cap;
		}
	}
	if (ok && nclaims < claims_cap)
		claims[nclaims++] = h;
	pthread_mutex_unlock(&claims_lock);
	return ok;
}

static void unclaim(uint64_t h)
{
	pthread_mutex_lock(&claims_lock);
	for (size_t i = 0; i < nclaims; i++) {
		if (claims[i] == h) {
			claims[i] = claims[--nclaims];
			break;
		}
	}
	pthread_mutex_unlock(&claims_lock);
}

/* Whether the regular file `name` in at was there before `since` (an
 * earlier run's copy, which this run replaces), rather than this run's. */
static bool from_before(int at, const char *name, double since)
{
	struct stat st;
	if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return false;
	return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9 < since;
}

/*
 * An earlier run's file `name` is replaced: the body is written aside (a
 * hidden name beside it) and renamed over it when whole; rename replaces a
 * link itself, never its target. path[0..keep) is name's directory.
 */
static int create_aside(struct evc__file_sink *s, int at, const char *path, size_t keep,
			const char *name)
{
	static unsigned serial;
	char tmpname[300];
	snprintf(tmpname, sizeof tmpname, ".%.200s.evcrawl-%d-%u", name, (int)getpid(),
		 __atomic_fetch_add(&serial, 1, __ATOMIC_RELAXED));
	int fd = create_at(at, tmpname);
	if (fd >= 0 && asprintf(&s->tmp, "%.*s%s", (int)keep, path, tmpname) < 0) {
		s->tmp = NULL;
		unlinkat(at, tmpname, 0);
		close(fd);
		fd = -ENOMEM;
	}
	return fd;
}

int evc__sink_open(struct evc__file_sink *s, const char *dir, const struct evc__url *u,
		   double since)
{
	s->fd = -1;
	s->path = NULL;
	s->tmp = NULL;
	s->claim = 0;
	s->not_ours = false;
	char rel[1100];
	int rlen = evc__url_save_path(u, rel, sizeof rel);
	if (rlen < 0)
		return rlen;
	int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return -errno;
	char *leaf;
	int at = walk(top, rel, &leaf);
	close(top);
	if (at < 0)
		return at;
	/* The walk may have stopped early: what follows the leaf is dropped. */
	char *cut = strchr(leaf, '/');
	if (cut)
		*cut = '\0';
	size_t cap = strlen(dir) + strlen(rel) + 40;
	char *path = malloc(cap);
	if (!path) {
		close(at);
		return -ENOMEM;
	}
	/*
	 * The candidates, in order: the name itself, then (taken by another
	 * URL of this run, a directory, a link) "~" and the URL's hash, then
	 * ".1", ".2", ...: the same inputs always give the same names. Any of
	 * them that holds an earlier run's regular file is replaced.
	 */
	size_t base = strlen(leaf), keep = strlen(dir) + 1 + (size_t)(leaf - rel);
	unsigned hash = (unsigned)evc__hash64(u->href, strlen(u->href));
	char name[256 + 32];
	int fd = -EEXIST;
	snprintf(path, cap, "%s/%s", dir, rel);
	for (int n = cut ? 0 : -1; n < 1000 && (fd == -EEXIST || fd == -EISDIR || fd == -ELOOP);
	     n++) {
		if (n < 0)
			snprintf(name, sizeof name, "%s", leaf);
		else if (n == 0)
			snprintf(name, sizeof name, "%.*s~%08x", (int)base, leaf, hash);
		else
			snprintf(name, sizeof name, "%.*s~%08x.%d", (int)base, leaf, hash, n);
		snprintf(path + keep, cap - keep, "%s", name);
		uint64_t h = evc__hash64(path, strlen(path));
		if (!claim(h)) { /* another fetch is writing it now */
			fd = -EEXIST;
			continue;
		}
		fd = create_at(at, name);
		if (fd == -EEXIST && from_before(at, name, since))
			fd = create_aside(s, at, path, keep, name);
		if (fd >= 0)
			s->claim = h;
		else
			unclaim(h);
	}
	if (fd >= 0)
		snprintf(path + keep, cap - keep, "%s", name);
	close(at);
	if (fd < 0) {
		free(path);
		return fd;
	}
	s->fd = fd;
	s->path = path;
	s->dir = dir;
	return 0;
}

int evc__sink_write(struct evc__file_sink *s, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(s->fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Through the same walk as the creation, never through a link: the
 * directory holding path's last component, and that name. -1 if gone. */
static int parent_of(const struct evc__file_sink *s, char *path, char **leaf)
{
	size_t dlen = strlen(s->dir);
	if (strncmp(path, s->dir, dlen) != 0 || path[dlen] != '/')
		return -1;
	int top = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return -1;
	int at = walk(top, path + dlen + 1, leaf);
	close(top);
	if (at >= 0 && strchr(*leaf, '/')) {
		close(at);
		return -1;
	}
	return at;
}

int evc__sink_close(struct evc__file_sink *s, int discard)
{
	int rc = 0;
	if (s->fd >= 0 && close(s->fd) < 0 && errno != EINTR)
		rc = -errno; /* EINTR: Linux has closed the fd all the same */
	s->fd = -1;
	if (s->claim) {
		unclaim(s->claim);
		s->claim = 0;
	}
	if (s->tmp && !discard && rc == 0) { /* whole: over the earlier run's file */
		char *tmp_leaf, *leaf;
		int at = parent_of(s, s->tmp, &tmp_leaf);
		int at2 = at >= 0 ? parent_of(s, s->path, &leaf) : -1;
		if (at2 < 0 || renameat(at, tmp_leaf, at2, leaf) < 0)
			rc = -(errno ? errno : ENOENT);
		if (at >= 0)
			close(at);
		if (at2 >= 0)
			close(at2);
		if (rc == 0) {
			free(s->tmp);
			s->tmp = NULL;
		}
	}
	if (s->tmp && rc < 0)
		s->not_ours = true; /* path still holds the earlier run's file */
	if (discard || (s->tmp && rc < 0)) {
		char *name = s->tmp ? s->tmp : s->not_ours ? NULL : s->path, *leaf;
		int at = name ? parent_of(s, name, &leaf) : -1;
		if (at >= 0) {
			unlinkat(at, leaf, 0);
			close(at);
		}
		free(s->tmp);
		s->tmp = NULL;
	}
	if (discard && s->path) {
		free(s->path);
		s->path = NULL;
	}
	return rc;
}

int evc__sink_exists(const char *dir, const struct evc__url *u, char **path)
{
	char rel[1100];
	*path = NULL;
	if (evc__url_save_path(u, rel, sizeof rel) < 0)
		return 0;
	int top = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (top < 0)
		return 0;
	/* Walk without making anything: a missing directory means no file. */
	int cur = top;
	char *name = rel, *slash;
	while ((slash = strchr(name, '/')) != NULL) {
		*slash = '\0';
		int next = openat(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		*slash = '/';
		close(cur);
		if (next < 0)
			return 0;
		cur = next;
		name = slash + 1;
	}
	struct stat st;
	int found = fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
	close(cur);
	if (found && asprintf(path, "%s/%s", dir, rel) < 0)
		*path = NULL;
	return found;
}
