/* SMS through an HTTP(S) gateway with libcurl: a JSON POST
 * {"id": "...", "to": "+79...", "text": "..."} with "Authorization: Bearer
 * TOKEN" from the [sms] token secret file. The answer decides: 2xx sent, 4xx
 * permanent failure (the gateway's reason kept), 5xx or timeout transient,
 * no connection: the gateway is down. One handle for the run (keep-alive). */
#ifndef ESIA_SMS_H
#define ESIA_SMS_H

#include <stddef.h>

#include "smtp.h" /* enum send_result */

struct config;
struct sms;

struct sms *sms_open(const struct config *cfg);
/* id: our stable message id (the gateway may de-duplicate on it). A
 * failure's reason in why holds the gateway's bytes as sent: clean_text()
 * before storing or logging it. */
enum send_result sms_send(struct sms *s, const char *id, const char *phone, const char *text,
			  char *why, size_t whyn);
void sms_close(struct sms *s);
/* "+7*******89" into buf (at least 32 bytes). */
const char *mask_phone(const char *phone, char *buf);
/* UTF-16 code units of a UTF-8 text (what the SMS segment rules count). */
size_t sms_units(const char *utf8);

#endif
