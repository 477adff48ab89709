/* Number parsing and printing that must match the C library Redis uses: `long double`
 * arithmetic for INCRBYFLOAT (80-bit on x86-64, which Rust has no type for), strtod/strtold
 * acceptance rules, and printf's %.17g. Written for Picket; no Redis code. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PK_MAX 5120

static int pk_copy(const char *s, size_t len, char *buf) {
    if (len == 0 || len >= PK_MAX) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return 1;
}

/* 1 when s parses entirely as a long double that is not NaN and did not overflow/underflow. */
static int pk_strtold(const char *s, size_t len, long double *out) {
    char buf[PK_MAX];
    char *end;
    if (!pk_copy(s, len, buf)) return 0;
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0') return 0;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) return 0;
    if (isnan(v)) return 0;
    *out = v;
    return 1;
}

/* Formats a long double as Redis's human form: %.17Lf without trailing zeros; "inf"/"-inf". */
static int pk_fmt_human(long double v, char *out, size_t outlen) {
    int l;
    if (isinf(v)) {
        l = snprintf(out, outlen, "%s", v > 0 ? "inf" : "-inf");
        return l;
    }
    l = snprintf(out, outlen, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > outlen) return -1;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
        out[l] = '\0';
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; out[1] = '\0'; l = 1; }
    return l;
}

/* cur + incr in long double. Returns the length written to out, or
 * -1: cur is not a float, -2: incr is not a float, -3: the result is NaN or infinite. */
int picket_ld_incr(const char *cur, size_t curlen, const char *incr, size_t incrlen, char *out, size_t outlen) {
    long double a = 0, b = 0;
    if (cur != NULL && !pk_strtold(cur, curlen, &a)) return -1;
    if (!pk_strtold(incr, incrlen, &b)) return -2;
    long double r = a + b;
    if (isnan(r) || isinf(r)) return -3;
    int l = pk_fmt_human(r, out, outlen);
    return l < 0 ? -3 : l;
}

/* Parses a long double (as string2ld) and prints it back in human form; -1 if invalid. */
int picket_ld_normalize(const char *s, size_t len, char *out, size_t outlen) {
    long double v;
    if (!pk_strtold(s, len, &v)) return -1;
    return pk_fmt_human(v, out, outlen);
}

/* Parses a double as Redis's string2d: whole string, no leading space, no NaN. 1 = ok. */
int picket_strtod(const char *s, size_t len, double *out) {
    char buf[PK_MAX];
    char *end;
    if (!pk_copy(s, len, buf)) return 0;
    errno = 0;
    double v = strtod(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0') return 0;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) return 0;
    if (isnan(v)) return 0;
    *out = v;
    return 1;
}

/* printf("%.17g"). */
int picket_fmt_g17(double d, char *out, size_t outlen) {
    return snprintf(out, outlen, "%.17g", d);
}

/* `%.*f`: GEO distances (4 places) and coordinates (17 places, as Redis prints a double
   widened to long double with %.17Lf, which gives the same digits). */
int picket_fmt_fixed(double d, int places, char *out, size_t outlen) {
    return snprintf(out, outlen, "%.*f", places, d);
}

/* SORT's score of an element: strtod over the whole string as C sees it (up to a NUL byte),
   leading blanks and the empty string (0) allowed; ERANGE and NaN refused. */
int picket_sort_strtod(const char *s, size_t len, double *out) {
    char small[128];
    char *buf = len < sizeof(small) ? small : malloc(len + 1);
    char *end;
    if (buf == NULL) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    double v = strtod(buf, &end);
    int ok = *end == '\0' && errno != ERANGE && !isnan(v);
    if (buf != small) free(buf);
    *out = v;
    return ok;
}

#include <locale.h>

/* Takes LC_COLLATE from the environment, as redis-server does at start-up. Returns 1 when the
   collation is byte order (C, POSIX, C.UTF-8), so callers can compare without strcoll. */
int picket_collate_init(void) {
    const char *name = setlocale(LC_COLLATE, "");
    if (name == NULL) name = setlocale(LC_COLLATE, NULL);
    if (name == NULL) return 1;
    return strcmp(name, "C") == 0 || strcmp(name, "POSIX") == 0 ||
           strcasecmp(name, "C.UTF-8") == 0 || strcasecmp(name, "C.utf8") == 0;
}

/* strcoll of two byte strings as C strings (each ends at its first NUL byte). */
int picket_strcoll(const char *a, size_t alen, const char *b, size_t blen) {
    char sa[256], sb[256];
    char *ba = alen < sizeof(sa) ? sa : malloc(alen + 1);
    char *bb = blen < sizeof(sb) ? sb : malloc(blen + 1);
    int r = 0;
    if (ba != NULL && bb != NULL) {
        memcpy(ba, a, alen);
        ba[alen] = '\0';
        memcpy(bb, b, blen);
        bb[blen] = '\0';
        r = strcoll(ba, bb);
    }
    if (ba != sa) free(ba);
    if (bb != sb) free(bb);
    return r;
}
