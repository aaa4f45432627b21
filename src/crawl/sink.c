/* Body files under the output directory (see sink.h). */
#include <errno.h>
#include <fcntl.h>
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

int evc__sink_open(struct evc__file_sink *s, const char *dir, const struct evc__url *u)
{
	s->fd = -1;
	s->path = NULL;
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
	int fd = cut ? -EEXIST : create_at(at, leaf);
	if (fd == -EEXIST || fd == -EISDIR || fd == -ELOOP) {
		/* Taken (by another URL, a directory, a link): the first free
		 * name after it. The same inputs always give the same names. */
		size_t base = strlen(leaf);
		unsigned hash = (unsigned)evc__hash64(u->href, strlen(u->href));
		char alt[256 + 32];
		for (int n = 0; n < 1000 && (fd == -EEXIST || fd == -EISDIR || fd == -ELOOP);
		     n++) {
			if (n == 0)
				snprintf(alt, sizeof alt, "%.*s~%08x", (int)base, leaf, hash);
			else
				snprintf(alt, sizeof alt, "%.*s~%08x.%d", (int)base, leaf, hash, n);
			fd = create_at(at, alt);
		}
		if (fd >= 0) {
			snprintf(path, cap, "%s/%s", dir, rel);
			size_t keep = strlen(dir) + 1 + (size_t)(leaf - rel);
			snprintf(path + keep, cap - keep, "%s", alt);
		}
	} else if (fd >= 0) {
		snprintf(path, cap, "%s/%s", dir, rel);
	}
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

int evc__sink_close(struct evc__file_sink *s, int discard)
{
	int rc = 0;
	if (s->fd >= 0 && close(s->fd) < 0 && errno != EINTR)
		rc = -errno; /* EINTR: Linux has closed the fd all the same */
	s->fd = -1;
	if (discard && s->path) {
		/* Through the same walk as the creation: never through a link. */
		size_t dlen = strlen(s->dir);
		int top = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (top >= 0 && strncmp(s->path, s->dir, dlen) == 0 && s->path[dlen] == '/') {
			char *leaf;
			int at = walk(top, s->path + dlen + 1, &leaf);
			if (at >= 0) {
				if (!strchr(leaf, '/'))
					unlinkat(at, leaf, 0);
				close(at);
			}
		}
		if (top >= 0)
			close(top);
		free(s->path);
		s->path = NULL;
	}
	return rc;
}
