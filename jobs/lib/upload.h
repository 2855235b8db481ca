/* Upload a spool file to an agency endpoint with libcurl: HTTPS PUT with the
 * agency's client certificate ([AGENCY] client_cert, client_key) and CA
 * ([AGENCY] ca_bundle; no system store when set), or SFTP with the key file
 * (refused, like every secret, when group- or world-readable) to a server
 * whose host key is in [AGENCY] ssh_known_hosts (required), as .NAME.part
 * renamed to NAME once complete.
 * Transient failures (connect, timeout, 5xx, 408, 429) are retried a few
 * times with doubling backoff. */
#ifndef ESIA_UPLOAD_H
#define ESIA_UPLOAD_H

#include <stddef.h>

struct config;

enum upload_result { UPLOAD_OK = 0, UPLOAD_TRANSIENT = 1, UPLOAD_REFUSED = -1 };

/* PUT path to [agency] upload_url (+ name when the URL ends with '/').
 * Returns UPLOAD_OK, or UPLOAD_TRANSIENT / UPLOAD_REFUSED with a one-line
 * reason in why (nothing printed; libcurl's words, which may quote the
 * server, through curlx_why()). */
int upload_file(const struct config *cfg, const char *agency, const char *path, const char *name,
		char *why, size_t n);

/* Release libcurl's global state (at exit; safe if nothing was uploaded). */
void upload_shutdown(void);

#endif
