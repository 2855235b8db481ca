/* smtp-sink DIR: a minimal, fast SMTP receiver for `make bench` only, so the
 * notify figure measures esia-batch rather than a Python server. Listens on
 * 127.0.0.1 (free port written to DIR/port), one client at a time, answers
 * EHLO/HELO/MAIL/RCPT/DATA/RSET/NOOP/QUIT, discards message bodies, and on
 * SIGTERM writes the number of messages accepted to DIR/messages.
 * The correctness tests use a real server (aiosmtpd), never this. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static long messages;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void say(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Serve one connection; lines are read through a small buffer. */
static void serve(int fd)
{
	char buf[65536], line[1024];
	size_t have = 0, ll = 0;
	int in_data = 0;

	say(fd, "220 sink ESMTP\r\n");
	for (;;) {
		ssize_t r = read(fd, buf + have, sizeof(buf) - have);
		size_t start = 0;

		if (r <= 0)
			return;
		have += (size_t)r;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			ll = i - start;
			if (ll > sizeof(line) - 1)
				ll = sizeof(line) - 1;
			memcpy(line, buf + start, ll);
			line[ll] = '\0';
			if (ll && line[ll - 1] == '\r')
				line[--ll] = '\0';
			start = i + 1;
			if (in_data) {
				if (!strcmp(line, ".")) {
					in_data = 0;
					messages++;
					say(fd, "250 ok\r\n");
				}
				continue;
			}
			if (!strncasecmp(line, "EHLO", 4))
				say(fd, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n");
			else if (!strncasecmp(line, "DATA", 4)) {
				in_data = 1;
				say(fd, "354 go ahead\r\n");
			} else if (!strncasecmp(line, "QUIT", 4)) {
				say(fd, "221 bye\r\n");
				return;
			} else
				say(fd, "250 ok\r\n");
		}
		memmove(buf, buf + start, have - start);
		have -= start;
		if (have == sizeof(buf))
			have = 0; /* an over-long line: drop it */
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct sigaction sa = { .sa_handler = on_term };
	char path[4096];
	FILE *f;
	int s;

	if (argc != 2) {
		fprintf(stderr, "usage: smtp-sink DIR\n");
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 8) ||
	    getsockname(s, (struct sockaddr *)&a, &al)) {
		perror("smtp-sink");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/port", argv[1]);
	f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%d\n", ntohs(a.sin_port));
	fclose(f);
	while (!stop) {
		int c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		serve(c);
		close(c);
	}
	snprintf(path, sizeof(path), "%s/messages", argv[1]);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%ld\n", messages);
		fclose(f);
	}
	return 0;
}
