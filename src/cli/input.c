/* Reading URLs: command-line arguments, or lines of a file, pipe or stdin. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

static void die_usage(const char *what, const char *path)
{
	fprintf(stderr, "%s: %s %s: %s (try --help)\n", prog, what, path, strerror(errno));
	exit(2);
}

void input_open(struct input *in, const char *path)
{
	in->name = strcmp(path, "-") == 0 ? "stdin" : path;
	in->fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (in->fd < 0)
		die_usage("cannot open input file", path);
	struct stat st;
	if (fstat(in->fd, &st) < 0)
		die_usage("cannot read input file", path);
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		die_usage("cannot read input file", path);
	}
	in->is_pipe = !S_ISREG(st.st_mode);
}

void input_set_nonblocking(struct input *in)
{
	if (in->urls || !in->is_pipe)
		return;
	in->saved_flags = fcntl(in->fd, F_GETFL);
	fcntl(in->fd, F_SETFL, in->saved_flags | O_NONBLOCK);
	in->nonblock = true;
}

void input_close(struct input *in)
{
	if (in->nonblock)
		fcntl(in->fd, F_SETFL, in->saved_flags); /* stdin is shared */
	in->nonblock = false;
	in->eof = true;
}

/* Trim; 1 if what is left is a URL line (not blank, not a comment). */
static int url_line(char *s, size_t len, const char **line, size_t *out)
{
	while (len && (s[len - 1] == '\r' || s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	size_t i = 0;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] == '#')
		return 0;
	*line = s + i;
	*out = len - i;
	return 1;
}

/* A line longer than the buffer: what we have, marked so that it cannot
 * parse, still gets its one record. */
static int marked_line(struct input *in, const char **line, size_t *len)
{
	int n =
	    snprintf(in->marked, sizeof in->marked, "%.*s (line too long)", MAX_URL_LINE, in->buf);
	*line = in->marked;
	*len = (size_t)n;
	return 1;
}

static int next_line(struct input *in, const char **line, size_t *len);

int input_next(struct input *in, const char **line, size_t *len)
{
	int rc;
	while ((rc = next_line(in, line, len)) == 1 && in->skip &&
	       resume_has(in->skip, *line, *len))
		in->skipped++;
	return rc;
}

static int next_line(struct input *in, const char **line, size_t *len)
{
	if (in->urls) {
		if (in->next_url >= in->nurls)
			return -1;
		*line = in->urls[in->next_url++];
		*len = strlen(*line);
		return 1;
	}
	for (;;) {
		char *s = in->buf + in->start;
		char *nl = memchr(s, '\n', in->end - in->start);
		if (nl) {
			size_t n = (size_t)(nl - s);
			in->start += n + 1;
			if (in->skipping) {
				in->skipping = false;
				continue;
			}
			if (url_line(s, n, line, len))
				return 1;
			continue;
		}
		if (in->eof) {
			if (in->end > in->start && !in->skipping) {
				s = in->buf + in->start;
				size_t n = in->end - in->start;
				in->start = in->end;
				if (url_line(s, n, line, len))
					return 1;
			}
			return -1;
		}
		if (in->start > 0) {
			memmove(in->buf, in->buf + in->start, in->end - in->start);
			in->end -= in->start;
			in->start = 0;
		}
		if (in->end == sizeof in->buf) {
			in->end = 0;
			if (in->skipping) /* still the same long line: already reported */
				continue;
			in->skipping = true;
			return marked_line(in, line, len);
		}
		ssize_t n = read(in->fd, in->buf + in->end, sizeof in->buf - in->end);
		if (n < 0 && errno == EINTR) {
			if (in->stop && *in->stop) /* SIGINT while waiting for input */
				return -1;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			fprintf(stderr, "%s: reading %s: %s\n", prog, in->name, strerror(errno));
			in->failed = true;
		}
		if (n <= 0)
			in->eof = true;
		else
			in->end += (size_t)n;
	}
}
