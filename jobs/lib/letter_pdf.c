#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo.h>

#include "err.h"
#include "itf.h"
#include "letter_pdf.h"

#define MM (72.0 / 25.4)
#define A4_W (210.0 * MM)
#define A4_H (297.0 * MM)

enum { F_SANS, F_SANS_BOLD, F_MONO, F_MONO_BOLD, F_N };
static const char *const font_names[F_N] = { "sans", "sans-bold", "mono", "mono-bold" };

struct letter_pdf {
	FILE *fp;
	int write_failed;
	cairo_surface_t *surface;
	cairo_t *cr;
	cairo_font_face_t *font[F_N];
	int pages;     /* pages started */
	int page_open; /* a page is being drawn */
	double *narrowest; /* during letter_pdf_draw: per page, see letter_pdf.h */
	int first, max;    /* pages before that call; narrowest's length */
	struct tmpl {
		char *name, *src;
		cairo_surface_t *rec; /* drawn once, one form XObject in the PDF */
	} tmpl[8];
	int ntmpl;
};

static cairo_status_t write_fp(void *closure, const unsigned char *data, unsigned int len)
{
	struct letter_pdf *p = closure;

	if (fwrite(data, 1, len, p->fp) != len) {
		p->write_failed = 1;
		return CAIRO_STATUS_WRITE_ERROR;
	}
	return CAIRO_STATUS_SUCCESS;
}

struct letter_pdf *letter_pdf_open(FILE *fp)
{
	struct letter_pdf *p = xcalloc(1, sizeof(*p));

	p->fp = fp;
	p->surface = cairo_pdf_surface_create_for_stream(write_fp, p, A4_W, A4_H);
	if (cairo_surface_status(p->surface) != CAIRO_STATUS_SUCCESS) {
		error("cannot start a PDF: %s", cairo_status_to_string(cairo_surface_status(p->surface)));
		cairo_surface_destroy(p->surface);
		free(p);
		return NULL;
	}
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_TITLE,
				       "Activation code letters");
	cairo_pdf_surface_set_metadata(p->surface, CAIRO_PDF_METADATA_CREATOR, "esia-batch");
	p->cr = cairo_create(p->surface);
	p->font[F_SANS] = cairo_toy_font_face_create("DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
						     CAIRO_FONT_WEIGHT_NORMAL);
	p->font[F_SANS_BOLD] = cairo_toy_font_face_create("DejaVu Sans", CAIRO_FONT_SLANT_NORMAL,
							  CAIRO_FONT_WEIGHT_BOLD);
	p->font[F_MONO] = cairo_toy_font_face_create("DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
						     CAIRO_FONT_WEIGHT_NORMAL);
	p->font[F_MONO_BOLD] = cairo_toy_font_face_create("DejaVu Sans Mono", CAIRO_FONT_SLANT_NORMAL,
							  CAIRO_FONT_WEIGHT_BOLD);
	return p;
}

static void end_page(struct letter_pdf *p)
{
	if (p->page_open)
		cairo_show_page(p->cr);
	p->page_open = 0;
}

static int font_index(const char *name)
{
	for (int i = 0; i < F_N; i++)
		if (!strcmp(name, font_names[i]))
			return i;
	return -1;
}

/* The bars as a one-row image stretched to height: one small XObject per
 * page instead of dozens of rectangles (far cheaper to write), sharp edges
 * kept by nearest-neighbour scaling (/Interpolate false). Units: a narrow
 * element is 2 pixels, a wide one round(2 * wide / narrow). */
static void draw_barcode(cairo_t *cr, double x, double y, double narrow, double wide,
			 double height, const unsigned char *el, int n)
{
	int w_units = (int)(2 * wide / narrow + 0.5), width = 0, at = 0, stride;
	cairo_surface_t *img;
	cairo_pattern_t *pat;
	unsigned char *row;

	for (int i = 0; i < n; i++)
		width += el[i] ? 2 : w_units;
	img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, 1);
	stride = cairo_image_surface_get_stride(img);
	(void)stride;
	cairo_surface_flush(img);
	row = cairo_image_surface_get_data(img);
	for (int i = 0; i < n; i++) {
		int w = el[i] ? 2 : w_units;
		uint32_t px = i % 2 == 0 ? 0xff000000u : 0xffffffffu;

		for (int k = 0; k < w; k++, at++)
			memcpy(row + 4 * at, &px, 4);
	}
	cairo_surface_mark_dirty(img);
	cairo_save(cr);
	cairo_translate(cr, x * MM, y * MM);
	cairo_scale(cr, narrow / 2 * MM, height * MM);
	cairo_set_source_surface(cr, img, 0, 0);
	pat = cairo_get_source(cr);
	cairo_pattern_set_filter(pat, CAIRO_FILTER_NEAREST);
	cairo_rectangle(cr, 0, 0, width, 1);
	cairo_fill(cr);
	cairo_restore(cr);
	cairo_surface_destroy(img);
}

/* One layout line; text state is kept across lines in *st. */
struct text_state {
	int active;
	double x, y, size, leading, width; /* width 0: as wide as it is */
	int font;
	int line;
};

/* A line of the page being drawn was condensed to scale of its width. */
static void note_condensed(struct letter_pdf *p, double scale)
{
	int k = p->pages - 1 - p->first;

	if (p->narrowest && k >= 0 && k < p->max && scale < p->narrowest[k])
		p->narrowest[k] = scale;
}

static int draw_line(struct letter_pdf *p, cairo_t *cr, struct text_state *st, char *s,
		     int lineno, int in_tmpl)
{
	if (s[0] == '|') {
		if (!st->active || !(p->page_open || in_tmpl))
			return error("letter layout line %d: text outside a @text block", lineno);
		cairo_text_extents_t ext;

		cairo_set_font_face(cr, p->font[st->font]);
		cairo_set_font_size(cr, st->size);
		cairo_save(cr);
		cairo_translate(cr, st->x * MM, st->y * MM + st->size * 0.8 + st->line * st->leading * MM);
		/* An address line the envelope window would hide part of (the
		 * Post reads only what shows): narrower letters, same height and
		 * baseline, nothing dropped. */
		cairo_text_extents(cr, s + 1, &ext);
		if (st->width > 0 && ext.x_advance > st->width * MM) {
			cairo_scale(cr, st->width * MM / ext.x_advance, 1);
			if (!in_tmpl)
				note_condensed(p, st->width * MM / ext.x_advance);
		}
		cairo_move_to(cr, 0, 0);
		cairo_show_text(cr, s + 1);
		cairo_restore(cr);
		st->line++;
		return 0;
	}
	st->active = 0;
	if (in_tmpl && (!strncmp(s, "@page", 5) || !strncmp(s, "@use", 4)))
		return error("letter layout line %d: \"%.20s\" inside a @template", lineno, s);
	if (!strcmp(s, "@page")) {
		end_page(p);
		p->page_open = 1;
		p->pages++;
		cairo_set_source_rgb(cr, 0, 0, 0);
		return 0;
	}
	if (!p->page_open && !in_tmpl)
		return error("letter layout line %d: \"%.20s\" before the first @page", lineno, s);
	if (!strncmp(s, "@use ", 5)) {
		for (int i = 0; i < p->ntmpl; i++)
			if (!strcmp(p->tmpl[i].name, s + 5)) {
				cairo_set_source_surface(cr, p->tmpl[i].rec, 0, 0);
				cairo_paint(cr);
				cairo_set_source_rgb(cr, 0, 0, 0);
				return 0;
			}
		return error("letter layout line %d: no template \"%.40s\"", lineno, s + 5);
	}
	if (!strncmp(s, "@text ", 6)) {
		char font[16];

		int n;

		st->width = 0;
		n = sscanf(s + 6, "%lf %lf %15s %lf %lf %lf", &st->x, &st->y, font, &st->size,
			   &st->leading, &st->width);
		if (n < 5 || st->width < 0 || (st->font = font_index(font)) < 0)
			return error("letter layout line %d: bad @text", lineno);
		st->active = 1;
		st->line = 0;
		return 0;
	}
	if (!strncmp(s, "@barcode ", 9)) {
		double x, y, narrow, wide, h;
		char digits[64];
		unsigned char el[4 + 5 * 64 + 3];
		int n;

		if (sscanf(s + 9, "%lf %lf %lf %lf %lf %63s", &x, &y, &narrow, &wide, &h, digits) != 6 ||
		    (n = itf_elements(digits, el, sizeof(el))) < 0)
			return error("letter layout line %d: bad @barcode", lineno);
		draw_barcode(cr, x, y, narrow, wide, h, el, n);
		return 0;
	}
	if (!strncmp(s, "@line ", 6) || !strncmp(s, "@rect ", 6)) {
		double a, b, c, d, w;

		if (sscanf(s + 6, "%lf %lf %lf %lf %lf", &a, &b, &c, &d, &w) != 5)
			return error("letter layout line %d: bad %.5s", lineno, s);
		cairo_set_line_width(cr, w);
		if (s[1] == 'l') {
			cairo_move_to(cr, a * MM, b * MM);
			cairo_line_to(cr, c * MM, d * MM);
		} else {
			cairo_rectangle(cr, a * MM, b * MM, c * MM, d * MM);
		}
		cairo_stroke(cr);
		return 0;
	}
	return error("letter layout line %d: unknown item \"%.20s\"", lineno, s);
}

/* The next line of *s into *line (grown as needed); its length, or -1 at
 * the end. CR before LF is dropped. */
static long next_line(const char **s, char **line, size_t *cap)
{
	const char *e;
	size_t n;

	if (!**s)
		return -1;
	e = strchr(*s, '\n');
	n = e ? (size_t)(e - *s) : strlen(*s);
	if (n + 1 > *cap) {
		*cap = n + 64;
		*line = xrealloc(*line, *cap);
	}
	memcpy(*line, *s, n);
	(*line)[n] = '\0';
	*s += n + (e ? 1 : 0);
	if (n && (*line)[n - 1] == '\r')
		(*line)[--n] = '\0';
	return (long)n;
}

/* @template NAME ... @end: drawn once into a recording surface that each
 * page paints (@use NAME); the same text again keeps the one drawn before. */
static int define_template(struct letter_pdf *p, const char *name, const char *src, int lineno)
{
	struct text_state st = { 0 };
	cairo_rectangle_t page = { 0, 0, A4_W, A4_H };
	struct tmpl *t = NULL;
	cairo_t *cr;
	char *line = NULL;
	size_t cap = 0;
	long n;
	int ret = 0;

	for (int i = 0; i < p->ntmpl; i++)
		if (!strcmp(p->tmpl[i].name, name)) {
			if (!strcmp(p->tmpl[i].src, src))
				return 0;
			t = &p->tmpl[i];
		}
	if (!t) {
		if (p->ntmpl == (int)(sizeof(p->tmpl) / sizeof(p->tmpl[0])))
			return error("letter layout line %d: too many templates", lineno);
		t = &p->tmpl[p->ntmpl++];
		t->name = xstrdup(name);
	} else {
		cairo_surface_destroy(t->rec);
		free(t->src);
	}
	t->src = xstrdup(src);
	t->rec = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, &page);
	cr = cairo_create(t->rec);
	cairo_set_source_rgb(cr, 0, 0, 0);
	while (!ret && (n = next_line(&src, &line, &cap)) >= 0) {
		lineno++;
		if (n)
			ret = draw_line(p, cr, &st, line, lineno, 1);
	}
	if (!ret && cairo_status(cr) != CAIRO_STATUS_SUCCESS)
		ret = error("letter template \"%s\": %s", name, cairo_status_to_string(cairo_status(cr)));
	cairo_destroy(cr);
	free(line);
	return ret;
}

int letter_pdf_draw(struct letter_pdf *p, const char *layout, double *narrowest, int max)
{
	struct text_state st = { 0 };
	const char *s = layout, *tstart = NULL;
	char *line = NULL, tname[64] = "";
	size_t cap = 0;
	long n;
	int lineno = 0, tline = 0, before = p->pages, ret = -1;

	p->narrowest = narrowest;
	p->first = before;
	p->max = narrowest ? max : 0;
	for (int i = 0; i < p->max; i++)
		narrowest[i] = 1;

	while ((n = next_line(&s, &line, &cap)) >= 0) {
		lineno++;
		if (tstart) {
			if (strcmp(line, "@end"))
				continue;
			{
				char *src = xmalloc((size_t)(s - tstart) + 1);
				size_t len = (size_t)(s - tstart) - 5; /* without "@end\n" */

				if (s[-1] != '\n')
					len++;
				memcpy(src, tstart, len);
				src[len] = '\0';
				n = define_template(p, tname, src, tline);
				free(src);
			}
			tstart = NULL;
			if (n)
				goto out;
			continue;
		}
		if (!n)
			continue;
		if (!strncmp(line, "@template ", 10)) {
			if (sscanf(line + 10, "%63s", tname) != 1) {
				error("letter layout line %d: bad @template", lineno);
				goto out;
			}
			tstart = s;
			tline = lineno;
			st.active = 0;
			continue;
		}
		if (draw_line(p, p->cr, &st, line, lineno, 0))
			goto out;
	}
	if (tstart) {
		error("letter layout line %d: @template %s has no @end", tline, tname);
		goto out;
	}
	if (cairo_status(p->cr) != CAIRO_STATUS_SUCCESS) {
		error("PDF drawing failed: %s", cairo_status_to_string(cairo_status(p->cr)));
		goto out;
	}
	ret = p->pages - before;
out:
	p->narrowest = NULL;
	if (line)
		memset(line, 0, cap); /* layout lines carry activation codes */
	free(line);
	return ret;
}

int letter_pdf_pages(const struct letter_pdf *p)
{
	return p->pages;
}

int letter_pdf_close(struct letter_pdf *p)
{
	int ret = 0;
	cairo_status_t st;

	if (!p)
		return 0;
	end_page(p);
	cairo_destroy(p->cr);
	cairo_surface_finish(p->surface);
	st = cairo_surface_status(p->surface);
	if (st != CAIRO_STATUS_SUCCESS || p->write_failed)
		ret = error("cannot write the PDF: %s",
			    p->write_failed ? "write error" : cairo_status_to_string(st));
	cairo_surface_destroy(p->surface);
	for (int i = 0; i < p->ntmpl; i++) {
		cairo_surface_destroy(p->tmpl[i].rec);
		free(p->tmpl[i].name);
		free(p->tmpl[i].src);
	}
	for (int i = 0; i < F_N; i++)
		cairo_font_face_destroy(p->font[i]);
	free(p);
	return ret;
}
