/* The letter renderer: draws the layout text that formats/letter.xsl makes
 * from the letters' data onto A4 pages of a PDF (cairo, DejaVu fonts,
 * embedded as subsets). The layout language, one item per line, units mm
 * from the top-left corner of the sheet, font sizes in pt:
 *   @page                                  start the next page (one per letter)
 *   @text X Y FONT SIZE LEADING [WIDTH]    then lines "|text" drawn from top Y;
 *                                          a line wider than WIDTH mm is
 *                                          condensed to WIDTH (never cut;
 *                                          letter_pdf_draw says how far)
 *   @barcode X Y NARROW WIDE HEIGHT DIGITS Interleaved 2 of 5 bars
 *   @line X1 Y1 X2 Y2 WIDTH                a rule (WIDTH in pt)
 *   @rect X Y W H WIDTH                    an outline
 * FONT: sans, sans-bold, mono, mono-bold. Blank lines are ignored. */
#ifndef ESIA_LETTER_PDF_H
#define ESIA_LETTER_PDF_H

#include <stdio.h>

struct letter_pdf;

/* A PDF document written to fp as pages are drawn; NULL on error. */
struct letter_pdf *letter_pdf_open(FILE *fp);
/* Draw the pages described by layout; returns pages drawn, or -1 with the
 * offending layout line named. narrowest (NULL: not wanted) gets, for each
 * of the first max pages drawn, the smallest share of its natural width a
 * line of that page was condensed to (1: none condensed; @template lines,
 * drawn once for all pages, are no page's own). */
int letter_pdf_draw(struct letter_pdf *p, const char *layout, double *narrowest, int max);
/* Pages drawn so far. */
int letter_pdf_pages(const struct letter_pdf *p);
/* Finish the document (fonts, page tree) and free; 0 or -1. */
int letter_pdf_close(struct letter_pdf *p);

#endif
