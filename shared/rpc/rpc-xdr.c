/*
 * rpc-xdr.c: XDR primitives.
 */
#define G_LOG_DOMAIN "modvirt.rpc"

#include "rpc-xdr.h"

#include <string.h>

static inline size_t
xdr_pad(size_t n)
{
    return (4 - (n & 3)) & 3;
}

void
xdr_encoder_init(XdrEncoder *x, size_t reserve, size_t limit)
{
    memset(x, 0, sizeof(*x));
    x->limit = limit;
    if (reserve) {
        x->data = g_malloc(reserve);
        x->cap = reserve;
    }
}

guint8 *
xdr_encoder_steal(XdrEncoder *x, size_t *ret_len)
{
    guint8 *data = x->data;

    *ret_len = x->len;
    x->data = NULL;
    x->len = x->cap = 0;
    return data;
}

void
xdr_encoder_clear(XdrEncoder *x)
{
    g_clear_pointer(&x->data, g_free);
    x->len = x->cap = 0;
}

bool
xdr_enc_fail(XdrEncoder *x, const char *why)
{
    if (!x->error)
        x->error = why;
    return false;
}

guint8 *
xdr_enc_reserve(XdrEncoder *x, size_t n)
{
    guint8 *p;

    if (x->limit && (n > x->limit || x->len > x->limit - n)) {
        xdr_enc_fail(x, "message too large");
        return NULL;
    }
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap : 256;
        while (cap < x->len + n)
            cap *= 2;
        x->data = g_realloc(x->data, cap);
        x->cap = cap;
    }
    p = x->data + x->len;
    x->len += n;
    return p;
}

bool
xdr_enc_u32(XdrEncoder *x, guint32 v)
{
    guint8 *p = xdr_enc_reserve(x, 4);

    if (!p)
        return false;
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
    return true;
}

bool
xdr_enc_i32(XdrEncoder *x, gint32 v)
{
    return xdr_enc_u32(x, (guint32)v);
}

bool
xdr_enc_u64(XdrEncoder *x, guint64 v)
{
    return xdr_enc_u32(x, v >> 32) && xdr_enc_u32(x, (guint32)v);
}

bool
xdr_enc_i64(XdrEncoder *x, gint64 v)
{
    return xdr_enc_u64(x, (guint64)v);
}

bool
xdr_enc_double(XdrEncoder *x, double v)
{
    guint64 bits;

    G_STATIC_ASSERT(sizeof(bits) == sizeof(v));
    memcpy(&bits, &v, sizeof(bits));
    return xdr_enc_u64(x, bits);
}

bool
xdr_enc_char(XdrEncoder *x, char v)
{
    return xdr_enc_i32(x, (signed char)v);
}

bool
xdr_enc_uchar(XdrEncoder *x, guint8 v)
{
    return xdr_enc_u32(x, v);
}

bool
xdr_enc_short(XdrEncoder *x, gint16 v)
{
    return xdr_enc_i32(x, v);
}

bool
xdr_enc_ushort(XdrEncoder *x, guint16 v)
{
    return xdr_enc_u32(x, v);
}

bool
xdr_enc_count(XdrEncoder *x, guint32 count, guint32 max)
{
    if (count > max)
        return xdr_enc_fail(x, "array longer than its protocol maximum");
    return xdr_enc_u32(x, count);
}

static bool
xdr_enc_bytes(XdrEncoder *x, const void *p, size_t n)
{
    size_t pad = xdr_pad(n);
    guint8 *dst = xdr_enc_reserve(x, n + pad);

    if (!dst)
        return false;
    if (n)
        memcpy(dst, p, n);
    if (pad)
        memset(dst + n, 0, pad);
    return true;
}

bool
xdr_enc_string(XdrEncoder *x, const char *s, guint32 max)
{
    size_t n;

    if (!s)
        return xdr_enc_fail(x, "missing value for a non-optional string");
    n = strlen(s);
    if (n > max)
        return xdr_enc_fail(x, "string longer than its protocol maximum");
    return xdr_enc_u32(x, n) && xdr_enc_bytes(x, s, n);
}

bool
xdr_enc_string_opt(XdrEncoder *x, const char *s, guint32 max)
{
    if (!s)
        return xdr_enc_u32(x, 0);
    return xdr_enc_u32(x, 1) && xdr_enc_string(x, s, max);
}

bool
xdr_enc_opaque_fixed(XdrEncoder *x, const guint8 *p, guint32 n)
{
    return xdr_enc_bytes(x, p, n);
}

bool
xdr_enc_opaque_var(XdrEncoder *x, const guint8 *p, guint32 n, guint32 max)
{
    if (n > max)
        return xdr_enc_fail(x, "opaque data longer than its protocol maximum");
    return xdr_enc_u32(x, n) && xdr_enc_bytes(x, p, n);
}

void
xdr_decoder_init(XdrDecoder *x, const guint8 *data, size_t len)
{
    x->data = data;
    x->len = len;
    x->pos = 0;
    x->error = NULL;
}

size_t
xdr_dec_remaining(const XdrDecoder *x)
{
    return x->len - x->pos;
}

bool
xdr_dec_fail(XdrDecoder *x, const char *why)
{
    if (!x->error)
        x->error = why;
    return false;
}

static const guint8 *
xdr_dec_take(XdrDecoder *x, size_t n)
{
    const guint8 *p;

    if (n > x->len - x->pos) {
        xdr_dec_fail(x, "payload truncated");
        return NULL;
    }
    p = x->data + x->pos;
    x->pos += n;
    return p;
}

bool
xdr_dec_u32(XdrDecoder *x, guint32 *v)
{
    const guint8 *p = xdr_dec_take(x, 4);

    if (!p)
        return false;
    *v = ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8) | p[3];
    return true;
}

bool
xdr_dec_i32(XdrDecoder *x, gint32 *v)
{
    guint32 u;

    if (!xdr_dec_u32(x, &u))
        return false;
    *v = (gint32)u;
    return true;
}

bool
xdr_dec_u64(XdrDecoder *x, guint64 *v)
{
    guint32 hi, lo;

    if (!xdr_dec_u32(x, &hi) || !xdr_dec_u32(x, &lo))
        return false;
    *v = ((guint64)hi << 32) | lo;
    return true;
}

bool
xdr_dec_i64(XdrDecoder *x, gint64 *v)
{
    guint64 u;

    if (!xdr_dec_u64(x, &u))
        return false;
    *v = (gint64)u;
    return true;
}

bool
xdr_dec_double(XdrDecoder *x, double *v)
{
    guint64 bits;

    if (!xdr_dec_u64(x, &bits))
        return false;
    memcpy(v, &bits, sizeof(bits));
    return true;
}

bool
xdr_dec_char(XdrDecoder *x, char *v)
{
    gint32 i;

    if (!xdr_dec_i32(x, &i))
        return false;
    /* peers where char is unsigned send bytes >= 0x80 as 128..255 */
    if (i < G_MININT8 || i > G_MAXUINT8)
        return xdr_dec_fail(x, "char value out of range");
    *v = (char)(guint8)i;
    return true;
}

bool
xdr_dec_uchar(XdrDecoder *x, guint8 *v)
{
    guint32 u;

    if (!xdr_dec_u32(x, &u))
        return false;
    if (u > G_MAXUINT8)
        return xdr_dec_fail(x, "unsigned char value out of range");
    *v = (guint8)u;
    return true;
}

bool
xdr_dec_short(XdrDecoder *x, gint16 *v)
{
    gint32 i;

    if (!xdr_dec_i32(x, &i))
        return false;
    if (i < G_MININT16 || i > G_MAXINT16)
        return xdr_dec_fail(x, "short value out of range");
    *v = (gint16)i;
    return true;
}

bool
xdr_dec_ushort(XdrDecoder *x, guint16 *v)
{
    guint32 u;

    if (!xdr_dec_u32(x, &u))
        return false;
    if (u > G_MAXUINT16)
        return xdr_dec_fail(x, "unsigned short value out of range");
    *v = (guint16)u;
    return true;
}

bool
xdr_dec_bool(XdrDecoder *x, guint32 *v)
{
    if (!xdr_dec_u32(x, v))
        return false;
    if (*v > 1)
        return xdr_dec_fail(x, "bad optional-data marker");
    return true;
}

bool
xdr_dec_count(XdrDecoder *x, guint32 *count, guint32 max)
{
    if (!xdr_dec_u32(x, count))
        return false;
    if (*count > max)
        return xdr_dec_fail(x, "array longer than its protocol maximum");
    /* every element takes at least 4 bytes on the wire */
    if (*count > xdr_dec_remaining(x) / 4)
        return xdr_dec_fail(x, "payload truncated");
    return true;
}

static bool
xdr_dec_len_bytes(XdrDecoder *x, guint32 *n, guint32 max, const guint8 **p)
{
    if (!xdr_dec_u32(x, n))
        return false;
    if (*n > max)
        return xdr_dec_fail(x, "string or data longer than its protocol maximum");
    if ((size_t)*n + xdr_pad(*n) > xdr_dec_remaining(x))
        return xdr_dec_fail(x, "payload truncated");
    *p = xdr_dec_take(x, *n + xdr_pad(*n));
    return *p != NULL;
}

bool
xdr_dec_string(XdrDecoder *x, char **s, guint32 max)
{
    const guint8 *p;
    guint32 n;

    if (!xdr_dec_len_bytes(x, &n, max, &p))
        return false;
    if (memchr(p, 0, n))
        return xdr_dec_fail(x, "string contains a NUL byte");
    *s = g_malloc(n + 1);
    memcpy(*s, p, n);
    (*s)[n] = '\0';
    return true;
}

bool
xdr_dec_string_opt(XdrDecoder *x, char **s, guint32 max)
{
    guint32 present;

    if (!xdr_dec_bool(x, &present))
        return false;
    if (!present) {
        *s = NULL;
        return true;
    }
    return xdr_dec_string(x, s, max);
}

bool
xdr_dec_opaque_fixed(XdrDecoder *x, guint8 *p, guint32 n)
{
    const guint8 *src = xdr_dec_take(x, (size_t)n + xdr_pad(n));

    if (!src)
        return false;
    memcpy(p, src, n);
    return true;
}

bool
xdr_dec_opaque_var(XdrDecoder *x, guint8 **p, guint32 *n, guint32 max)
{
    const guint8 *src;

    if (!xdr_dec_len_bytes(x, n, max, &src))
        return false;
    *p = *n ? g_memdup2(src, *n) : NULL;
    return true;
}
