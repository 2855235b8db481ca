/* The Post registry of a print batch: the Otpravka order list (JSON array of
 * orders, DESIGN.md §3) and the F103 list (CSV: serial no., addressee,
 * postal address, tracking number, mass in grams). */
#ifndef ESIA_POST_REGISTRY_H
#define ESIA_POST_REGISTRY_H

#include <stdio.h>

struct post_item {
	const char *family, *first, *patronymic; /* patronymic may be "" */
	const char *index, *region, *district, *locality, *street, *house, *flat;
	const char *barcode;   /* 14 digits */
	const char *order_num; /* our reference for the order */
	int mass;              /* grams */
};

void post_json_begin(FILE *f);
void post_json_item(FILE *f, const struct post_item *it, int first);
void post_json_end(FILE *f);

void post_f103_header(FILE *f);
void post_f103_row(FILE *f, int serial, const struct post_item *it);

/* "street, д. house, кв. flat, locality, district, region, index" into a
 * malloc'd string (empty parts left out). */
char *post_address_line(const struct post_item *it);

#endif
