/* Fetch response packets for import-responses from [AGENCY] download_url
 * (https only) with the agency's client certificate ([AGENCY] client_cert,
 * client_key) and CA ([AGENCY] ca_bundle). Protocol (formats/PACKETS.md,
 * "Transport"): GET download_url answers a plain-text listing, one file name
 * per line; GET download_url+NAME is the packet; DELETE download_url+NAME
 * once it is safely in inbox/AGENCY/. Nothing downloaded is trusted: the
 * importer checks every file as if it had been dropped into the inbox. */
#ifndef ESIA_DOWNLOAD_H
#define ESIA_DOWNLOAD_H

struct config;

enum download_result { DOWNLOAD_OK = 0, DOWNLOAD_TRANSIENT = 1, DOWNLOAD_REFUSED = -1 };

struct download_stats {
	long long fetched; /* new files written into the inbox */
	long long present; /* offered again, already in inbox/processed/rejected */
	long long skipped; /* bad names, oversize or refused files (warned) */
};

/* Download what [agency] download_url offers into inbox/AGENCY/. Returns
 * DOWNLOAD_OK, DOWNLOAD_TRANSIENT (server down: connect, timeout, 5xx) or
 * DOWNLOAD_REFUSED (configuration, certificate, protocol); the error has
 * been printed. Files fetched before a failure stay in the inbox. */
int download_agency(const struct config *cfg, const char *agency, struct download_stats *st);

#endif
