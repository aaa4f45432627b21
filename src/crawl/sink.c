/* Body files under the output directory (see sink.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crawl/sink.h"

/* mkdir -p for every directory in path (not the last component). */
static int make_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		int rc = mkdir(path, 0755);
		int err = errno;
		*p = '/';
		if (rc < 0 && err != EEXIST)
			return -err;
	}
	return 0;
}

static int try_create(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
}

int evc__sink_open(struct evc__file_sink *s, const char *dir, const struct evc__url *u)
{
	s->fd = -1;
	s->path = NULL;
	char rel[1100];
	int rlen = evc__url_save_path(u, rel, sizeof rel);
	if (rlen < 0)
		return rlen;
	size_t cap = strlen(dir) + (size_t)rlen + 40;
	char *path = malloc(cap);
	if (!path)
		return -ENOMEM;
	snprintf(path, cap, "%s/%s", dir, rel);
	int rc = make_parents(path);
	int fd = rc < 0 ? -1 : try_create(path);
	if (fd < 0 && (errno == EEXIST || errno == EISDIR || errno == ENOTDIR || rc == -ENOTDIR ||
		       rc == -EEXIST)) {
		/* Taken, or a file sits where a directory is needed: put the
		 * file next to the first free name. Cut the path at the first
		 * component that is not a directory. */
		char *p = path + strlen(dir) + 1;
		for (char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
			struct stat st;
			*slash = '\0';
			int isdir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
			if (!isdir) {
				break;
			}
			*slash = '/';
		}
		size_t base = strlen(path);
		unsigned hash = (unsigned)evc__hash64(u->href, strlen(u->href));
		for (int n = 0; n < 1000 && fd < 0; n++) {
			if (n == 0)
				snprintf(path + base, cap - base, "~%08x", hash);
			else
				snprintf(path + base, cap - base, "~%08x.%d", hash, n);
			fd = try_create(path);
			if (fd < 0 && errno != EEXIST && errno != EISDIR)
				break;
		}
	}
	if (fd < 0) {
		int err = rc < 0 ? rc : -errno;
		free(path);
		return err;
	}
	s->fd = fd;
	s->path = path;
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
		unlink(s->path);
		free(s->path);
		s->path = NULL;
	}
	return rc;
}
