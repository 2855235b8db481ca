/* Interleaved 2 of 5: an even number of digits as alternating bars and
 * spaces, the first digit of each pair in the bars, the second in the spaces;
 * start code narrow bar/space/bar/space, stop code wide bar, narrow space,
 * narrow bar. */
#ifndef ESIA_ITF_H
#define ESIA_ITF_H

/* Element widths in narrow units (1 narrow, wide = 0 marks "wide": the caller
 * picks the ratio) for digits, starting with a bar and alternating. Writes
 * at most 4 + 5 * strlen(digits) + 3 entries into out and returns how many,
 * or -1 if digits is empty, odd in length, or not all digits. */
int itf_elements(const char *digits, unsigned char *out, int max);

#endif
