/* The one way this program makes a libcurl handle: libcurl initialised once
 * per process, no signals, bounded connect and total time, only the listed
 * protocols, no redirects, the configured CA bundle (else the system's). */
#ifndef ESIA_CURLX_H
#define ESIA_CURLX_H

#include <curl/curl.h>

/* errbuf must be CURL_ERROR_SIZE bytes and outlive the handle. timeout in
 * seconds (<= 0: 30). ca may be NULL or "". NULL after printing an error. */
CURL *curlx_new(const char *url, const char *protocols, long timeout, const char *ca,
		char *errbuf);
/* A failed transfer's reason into why (n bytes): libcurl's error buffer,
 * else its text for e, made fit to log and store by clean_text(): the
 * buffer may quote the server (a certificate's subject name, a reply's
 * bytes), newlines and bytes that are no UTF-8 included. */
void curlx_why(char *why, size_t n, const char *errbuf, CURLcode e);
/* A transfer error worth retrying later (the peer was unreachable or the
 * connection broke), as opposed to a refusal (bad certificate, bad URL). */
int curlx_transient(CURLcode e);
/* 1 when url's host is this machine: "localhost", or an address literal in
 * 127.0.0.0/8 or ::1 (never a DNS name, whatever it starts with): the only
 * place personal data may go without TLS. 0 otherwise, or when url does not
 * parse. */
int curlx_loopback(const char *url);
/* At exit (main): release libcurl's global state if it was set up. */
void curlx_cleanup(void);

#endif
