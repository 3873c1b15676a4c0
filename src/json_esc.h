/* json_esc.h - JSON string contents from bytes that are not ours (file,
 * interface and host names), for the lines written by hand: the offline
 * mode's verdicts and the detection lines. jansson is not used there: it
 * refuses bytes that are not UTF-8 (a Latin-1 file name would lose its
 * lines) and costs the offline mode twice its CPU time. */
#ifndef BTBLOCKD_JSON_ESC_H
#define BTBLOCKD_JSON_ESC_H

#include <stddef.h>
#include <stdio.h>

/* Escape s into buf (size > 0; NUL-ended, no quotes around): '"' and '\'
 * with a backslash, control characters as \u00xx, and with ascii set also
 * DEL and every byte above (one \u00xx per byte: any bytes give valid
 * ASCII JSON); without it those bytes are copied. A character is written
 * only with room for its longest escape, so a cut never splits one.
 * Returns the length written. */
static inline size_t json_escape(char *buf, size_t size, const char *s, int ascii)
{
	size_t o = 0;

	for (; *s && o + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else if (c < 0x20 || (ascii && c >= 0x7f)) {
			o += (size_t)snprintf(buf + o, size - o, "\\u%04x", c);
		} else {
			buf[o++] = (char)c;
		}
	}
	buf[o] = '\0';
	return o;
}

#endif
