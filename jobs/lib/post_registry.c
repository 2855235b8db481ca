#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "post_registry.h"

static void field(FILE *f, const char *name, const char *value)
{
	fprintf(f, ",\"%s\":", name);
	json_print_str(f, value ? value : "");
}

void post_json_begin(FILE *f)
{
	fputs("[\n", f);
}

void post_json_item(FILE *f, const struct post_item *it, int first)
{
	char *name = it->patronymic && *it->patronymic
			     ? xasprintf("%s %s %s", it->family, it->first, it->patronymic)
			     : xasprintf("%s %s", it->family, it->first);

	fputs(first ? "{" : ",\n{", f);
	fputs("\"address-type-to\":\"DEFAULT\"", f);
	field(f, "mail-type", "LETTER");
	field(f, "mail-category", "ORDERED");
	fputs(",\"mail-direct\":643", f);
	fprintf(f, ",\"index-to\":%d", atoi(it->index));
	field(f, "region-to", it->region);
	if (it->district && *it->district)
		field(f, "area-to", it->district);
	field(f, "place-to", it->locality);
	field(f, "street-to", it->street);
	field(f, "house-to", it->house);
	if (it->flat && *it->flat)
		field(f, "room-to", it->flat);
	field(f, "recipient-name", name);
	field(f, "surname", it->family);
	field(f, "given-name", it->first);
	if (it->patronymic && *it->patronymic)
		field(f, "middle-name", it->patronymic);
	fprintf(f, ",\"mass\":%d", it->mass);
	field(f, "order-num", it->order_num);
	field(f, "barcode", it->barcode);
	fputc('}', f);
	free(name);
}

void post_json_end(FILE *f)
{
	fputs("\n]\n", f);
}

/* RFC 4180 field, always quoted; a leading = + - @ is defused with a quote
 * mark so spreadsheets do not run it as a formula, and so is a leading TAB
 * or CR, which some skip before reading the = behind it (OWASP's CSV
 * injection list). */
static void csv(FILE *f, const char *s, int last)
{
	fputc('"', f);
	if (*s && strchr("=+-@\t\r", *s))
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
	fputs(last ? "\r\n" : ",", f);
}

void post_f103_header(FILE *f)
{
	fputs("\"serial\",\"addressee\",\"address\",\"barcode\",\"mass\"\r\n", f);
}

char *post_address_line(const struct post_item *it)
{
	const char *part[7];
	char *tmp[2] = { NULL, NULL }, *out;
	size_t len = 1;
	int n = 0;

	part[n++] = it->street;
	tmp[0] = xasprintf("д. %s", it->house);
	part[n++] = tmp[0];
	if (it->flat && *it->flat) {
		tmp[1] = xasprintf("кв. %s", it->flat);
		part[n++] = tmp[1];
	}
	part[n++] = it->locality;
	if (it->district && *it->district)
		part[n++] = it->district;
	if (it->region && *it->region)
		part[n++] = it->region;
	part[n++] = it->index;
	for (int i = 0; i < n; i++)
		len += strlen(part[i]) + 2;
	out = xmalloc(len);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i)
			strcat(out, ", ");
		strcat(out, part[i]);
	}
	free(tmp[0]);
	free(tmp[1]);
	return out;
}

void post_f103_row(FILE *f, int serial, const struct post_item *it)
{
	char num[16], mass[16];
	char *name = it->patronymic && *it->patronymic
			     ? xasprintf("%s %s %s", it->family, it->first, it->patronymic)
			     : xasprintf("%s %s", it->family, it->first);
	char *addr = post_address_line(it);

	snprintf(num, sizeof(num), "%d", serial);
	snprintf(mass, sizeof(mass), "%d", it->mass);
	csv(f, num, 0);
	csv(f, name, 0);
	csv(f, addr, 0);
	csv(f, it->barcode, 0);
	csv(f, mass, 1);
	free(name);
	free(addr);
}
