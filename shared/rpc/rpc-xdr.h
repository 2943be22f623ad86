/*
 * rpc-xdr.h: XDR (RFC 4506) encoding and decoding, as libvirt's rpcgen
 * output puts it on the wire.  Generated codecs are built on these.
 *
 * Encoders append to a growable buffer; decoders read from a bounded
 * buffer and never allocate more than the remaining input can describe.
 * On failure both record a reason (x->error) for the caller's message.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    guint8 *data;
    size_t len;
    size_t cap;
    size_t limit;          /* maximum total length, 0 = none */
    const char *error;     /* static string, set on failure */
} XdrEncoder;

typedef struct {
    const guint8 *data;
    size_t len;
    size_t pos;
    const char *error;     /* static string, set on failure */
} XdrDecoder;

void xdr_encoder_init(XdrEncoder *x, size_t reserve, size_t limit);
/* Hands the buffer to the caller (g_free it); the encoder is reset. */
guint8 *xdr_encoder_steal(XdrEncoder *x, size_t *ret_len);
void xdr_encoder_clear(XdrEncoder *x);
/* Room for @n more bytes, returning a pointer to write them; NULL if over limit. */
guint8 *xdr_enc_reserve(XdrEncoder *x, size_t n);

bool xdr_enc_fail(XdrEncoder *x, const char *why);
bool xdr_enc_u32(XdrEncoder *x, guint32 v);
bool xdr_enc_i32(XdrEncoder *x, gint32 v);
bool xdr_enc_u64(XdrEncoder *x, guint64 v);
bool xdr_enc_i64(XdrEncoder *x, gint64 v);
bool xdr_enc_double(XdrEncoder *x, double v);
bool xdr_enc_char(XdrEncoder *x, char v);
bool xdr_enc_uchar(XdrEncoder *x, guint8 v);
bool xdr_enc_short(XdrEncoder *x, gint16 v);
bool xdr_enc_ushort(XdrEncoder *x, guint16 v);
bool xdr_enc_count(XdrEncoder *x, guint32 count, guint32 max);
bool xdr_enc_string(XdrEncoder *x, const char *s, guint32 max);
bool xdr_enc_string_opt(XdrEncoder *x, const char *s, guint32 max);
bool xdr_enc_opaque_fixed(XdrEncoder *x, const guint8 *p, guint32 n);
bool xdr_enc_opaque_var(XdrEncoder *x, const guint8 *p, guint32 n, guint32 max);

void xdr_decoder_init(XdrDecoder *x, const guint8 *data, size_t len);
size_t xdr_dec_remaining(const XdrDecoder *x);
bool xdr_dec_fail(XdrDecoder *x, const char *why);
bool xdr_dec_u32(XdrDecoder *x, guint32 *v);
bool xdr_dec_i32(XdrDecoder *x, gint32 *v);
bool xdr_dec_u64(XdrDecoder *x, guint64 *v);
bool xdr_dec_i64(XdrDecoder *x, gint64 *v);
bool xdr_dec_double(XdrDecoder *x, double *v);
bool xdr_dec_char(XdrDecoder *x, char *v);
bool xdr_dec_uchar(XdrDecoder *x, guint8 *v);
bool xdr_dec_short(XdrDecoder *x, gint16 *v);
bool xdr_dec_ushort(XdrDecoder *x, guint16 *v);
/* An XDR bool used as "pointer present": only 0 and 1 are accepted. */
bool xdr_dec_bool(XdrDecoder *x, guint32 *v);
/* An array count: at most @max and at most what the remaining input holds. */
bool xdr_dec_count(XdrDecoder *x, guint32 *count, guint32 max);
bool xdr_dec_string(XdrDecoder *x, char **s, guint32 max);
bool xdr_dec_string_opt(XdrDecoder *x, char **s, guint32 max);
bool xdr_dec_opaque_fixed(XdrDecoder *x, guint8 *p, guint32 n);
bool xdr_dec_opaque_var(XdrDecoder *x, guint8 **p, guint32 *n, guint32 max);
