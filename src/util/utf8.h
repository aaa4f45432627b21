/*
 * UTF-8, as the JSON record writer sees it: a valid sequence is kept, any
 * other byte becomes U+FFFD. --resume needs the same rule to recognise an
 * input line in the record written for it.
 */
#ifndef EVC_UTF8_H
#define EVC_UTF8_H

#include <stddef.h>

/**
 * The length (2-4) of the valid multi-byte UTF-8 sequence at s (n bytes
 * available), or 0 when s[0] does not start one: ASCII, a stray
 * continuation byte, an overlong form, a surrogate, beyond U+10FFFF, or
 * cut short.
 */
size_t evc__utf8_len(const unsigned char *s, size_t n);

#endif
