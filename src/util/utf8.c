/* UTF-8 checks shared by the record writer and --resume (see utf8.h). */
#include "util/utf8.h"

size_t evc__utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	unsigned min;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		len = 2, min = 0x80;
	else if (c < 0xf0)
		len = 3, min = 0x800;
	else
		len = 4, min = 0x10000;
	if (len > n)
		return 0;
	unsigned cp = c & (0x3f >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}
