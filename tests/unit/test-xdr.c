/*
 * test-xdr.c: the XDR rules of spec/rpc-wire.md section 2, checked byte for
 * byte through the real generated codecs (rpc-protocol.h).
 *
 * Three groups:
 *  /xdr/primitive/...  golden bytes for every primitive and rule;
 *  /xdr/reject/...     what the decoders must refuse (truncation, maxima,
 *                      optional markers, NULs, huge counts, union arms);
 *  /xdr/wire/...       every described procedure's args/ret/message struct
 *                      against the hand-annotated golden payloads in
 *                      tests/data/wire (written from the spec's layouts, not
 *                      from the generator): decode, re-encode, compare,
 *                      and refuse every truncation and trailing bytes.
 *
 * The golden directory is $MODVIRT_TEST_DATADIR/wire if that is set (the
 * tests/data directory), else MODVIRT_SRCDIR/tests/data/wire (meson passes
 * -DMODVIRT_SRCDIR), else found from GLib's $G_TEST_SRCDIR or the current
 * directory.
 */
#define G_LOG_DOMAIN "modvirt.test.xdr"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include <glib.h>

#include "rpc-message.h"
#include "rpc-protocol.h"
#include "util-error.h"

/* ------------------------------------------------------------ helpers */

/* Bytes from hex text; blanks are ignored and '#' comments run to the end
 * of the line. */
static GByteArray *
hex_parse(const char *text)
{
    GByteArray *out = g_byte_array_new();
    int nibble = -1;

    for (const char *p = text; *p; p++) {
        int v;

        if (*p == '#') {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                break;
            continue;
        }
        if (g_ascii_isspace(*p))
            continue;
        v = g_ascii_xdigit_value(*p);
        g_assert_cmpint(v, >=, 0);
        if (nibble < 0) {
            nibble = v;
        } else {
            guint8 b = (guint8)(nibble << 4 | v);
            g_byte_array_append(out, &b, 1);
            nibble = -1;
        }
    }
    g_assert_cmpint(nibble, ==, -1);
    return out;
}

static char *
hex_words(const guint8 *p, size_t len)
{
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < len; i++) {
        if (i && i % 4 == 0)
            g_string_append_c(s, ' ');
        g_string_append_printf(s, "%02x", p[i]);
    }
    return g_string_free(s, FALSE);
}

/* Fail the test, showing both sides word by word, unless equal. */
static void
check_bytes(const char *what, const guint8 *got, size_t got_len,
            const guint8 *want, size_t want_len)
{
    g_autofree char *g = NULL;
    g_autofree char *w = NULL;

    if (got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0))
        return;
    g = hex_words(got, got_len);
    w = hex_words(want, want_len);
    g_test_message("%s: bytes differ\n  got  (%zu): %s\n  want (%zu): %s",
                   what, got_len, g, want_len, w);
    g_test_fail();
}

static void
check_hex(const char *what, const guint8 *got, size_t got_len, const char *want_hex)
{
    g_autoptr(GByteArray) want = hex_parse(want_hex);

    check_bytes(what, got, got_len, want->data, want->len);
}

/* Encode @v with @enc; returns the bytes (g_free) or NULL with *ret_why. */
static guint8 *
encode(RpcEncodeFunc enc, const void *v, size_t *ret_len, const char **ret_why)
{
    XdrEncoder x;

    xdr_encoder_init(&x, 0, RPC_MAX_MESSAGE);
    if (!enc(&x, v)) {
        if (ret_why)
            *ret_why = x.error;
        xdr_encoder_clear(&x);
        *ret_len = 0;
        return NULL;
    }
    return xdr_encoder_steal(&x, ret_len);
}

#define ENC(T) ((RpcEncodeFunc)xdr_enc_##T)
#define DEC(T) ((RpcDecodeFunc)xdr_dec_##T)
#define FREE(T) ((RpcFreeFunc)xdr_free_##T)

/* Encode @v and compare with @hex. */
static void
check_encode(const char *what, RpcEncodeFunc enc, const void *v, const char *hex)
{
    const char *why = NULL;
    size_t len = 0;
    g_autofree guint8 *got = encode(enc, v, &len, &why);

    if (!got) {
        g_test_message("%s: encoding failed: %s", what, why ? why : "?");
        g_test_fail();
        return;
    }
    check_hex(what, got, len, hex);
}

/* Decode all of @hex into @ret (zeroed, sized by the caller); false with a
 * message on failure.  Uses rpc_payload_decode: the whole input must be
 * consumed, as the daemon requires. */
static bool
decode_hex(const char *hex, RpcDecodeFunc dec, RpcFreeFunc free_fn, void *ret,
           char **ret_msg)
{
    g_autoptr(GByteArray) in = hex_parse(hex);
    g_autoptr(GError) err = NULL;

    if (rpc_payload_decode(in->data, in->len, dec, free_fn, ret, &err))
        return true;
    g_assert_nonnull(err);
    g_assert_cmpint(util_error_code(err), ==, VIR_ERR_RPC);
    g_assert_cmpint(util_error_domain(err), ==, VIR_FROM_RPC);
    g_assert_true(g_str_has_prefix(err->message, "Unable to decode message payload"));
    if (ret_msg)
        *ret_msg = g_strdup(err->message);
    return false;
}

/* Decoding @hex must fail with a message containing @reason. */
static void
check_reject(const char *what, const char *hex, RpcDecodeFunc dec, RpcFreeFunc free_fn,
             size_t size, const char *reason)
{
    g_autofree void *ret = g_malloc0(size);
    g_autofree char *msg = NULL;

    if (decode_hex(hex, dec, free_fn, ret, &msg)) {
        g_test_message("%s: decoding succeeded, expected a failure (%s)", what, reason);
        free_fn(ret);
        g_test_fail();
        return;
    }
    if (reason && !strstr(msg, reason)) {
        g_test_message("%s: failed with '%s', expected it to mention '%s'", what, msg, reason);
        g_test_fail();
    }
}

/* A decoder over @hex, for the primitive decoders. */
typedef struct {
    GByteArray *bytes;
    XdrDecoder x;
} TestDec;

static void
test_dec_init(TestDec *d, const char *hex)
{
    d->bytes = hex_parse(hex);
    xdr_decoder_init(&d->x, d->bytes->data, d->bytes->len);
}

static void
test_dec_clear(TestDec *d)
{
    g_byte_array_unref(d->bytes);
}

/* Sample UUIDs */
static const guint8 uuid_vm1[16] = {
    0xc7, 0xa5, 0xfd, 0xbd, 0xcd, 0xaf, 0x94, 0x55,
    0x92, 0x6a, 0x82, 0xa0, 0xe9, 0xb1, 0xd1, 0xb5,
};
#define UUID_VM1_HEX "c7a5fdbd cdaf9455 926a82a0 e9b1d1b5"

/* ------------------------------------------------------------ primitives */

static void
test_int32(void)
{
    static const struct {
        gint32 v;
        const char *hex;
    } ints[] = {
        { 0, "00000000" }, { 1, "00000001" }, { -1, "ffffffff" },
        { 0x12345678, "12345678" }, { G_MININT32, "80000000" }, { G_MAXINT32, "7fffffff" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(ints); i++) {
        XdrEncoder x;
        TestDec d;
        gint32 back = 0;
        guint32 uback = 0;

        xdr_encoder_init(&x, 0, 0);
        g_assert_true(xdr_enc_i32(&x, ints[i].v));
        check_hex("i32", x.data, x.len, ints[i].hex);
        xdr_encoder_clear(&x);

        xdr_encoder_init(&x, 0, 0);
        g_assert_true(xdr_enc_u32(&x, (guint32)ints[i].v));
        check_hex("u32", x.data, x.len, ints[i].hex);
        xdr_encoder_clear(&x);

        test_dec_init(&d, ints[i].hex);
        g_assert_true(xdr_dec_i32(&d.x, &back));
        g_assert_cmpint(back, ==, ints[i].v);
        g_assert_cmpuint(xdr_dec_remaining(&d.x), ==, 0);
        test_dec_clear(&d);

        test_dec_init(&d, ints[i].hex);
        g_assert_true(xdr_dec_u32(&d.x, &uback));
        g_assert_cmpuint(uback, ==, (guint32)ints[i].v);
        test_dec_clear(&d);
    }
}

static void
test_hyper(void)
{
    static const struct {
        gint64 v;
        const char *hex;
    } hypers[] = {
        { 0, "00000000 00000000" },
        { -2, "ffffffff fffffffe" },
        { 9000000, "00000000 00895440" },
        { G_GINT64_CONSTANT(0x0102030405060708), "01020304 05060708" },
        { G_MININT64, "80000000 00000000" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(hypers); i++) {
        XdrEncoder x;
        TestDec d;
        gint64 back = 0;
        guint64 uback = 0;

        xdr_encoder_init(&x, 0, 0);
        g_assert_true(xdr_enc_i64(&x, hypers[i].v));
        check_hex("i64", x.data, x.len, hypers[i].hex);
        xdr_encoder_clear(&x);

        xdr_encoder_init(&x, 0, 0);
        g_assert_true(xdr_enc_u64(&x, (guint64)hypers[i].v));
        check_hex("u64", x.data, x.len, hypers[i].hex);
        xdr_encoder_clear(&x);

        test_dec_init(&d, hypers[i].hex);
        g_assert_true(xdr_dec_i64(&d.x, &back));
        g_assert_cmpint(back, ==, hypers[i].v);
        test_dec_clear(&d);

        test_dec_init(&d, hypers[i].hex);
        g_assert_true(xdr_dec_u64(&d.x, &uback));
        g_assert_cmpuint(uback, ==, (guint64)hypers[i].v);
        test_dec_clear(&d);
    }
}

static void
test_double(void)
{
    static const struct {
        double v;
        const char *hex;
    } dbls[] = {
        { 0.0, "00000000 00000000" },
        { 1.0, "3ff00000 00000000" },
        { -2.5, "c0040000 00000000" },
        { 0.1, "3fb99999 9999999a" },
        { 1e300, "7e37e43c 8800759c" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(dbls); i++) {
        XdrEncoder x;
        TestDec d;
        double back = 0;

        xdr_encoder_init(&x, 0, 0);
        g_assert_true(xdr_enc_double(&x, dbls[i].v));
        check_hex("double", x.data, x.len, dbls[i].hex);
        xdr_encoder_clear(&x);

        test_dec_init(&d, dbls[i].hex);
        g_assert_true(xdr_dec_double(&d.x, &back));
        g_assert_true(back == dbls[i].v);
        test_dec_clear(&d);
    }
    {
        /* infinities and NaN travel as their bit patterns */
        XdrEncoder x;
        TestDec d;
        double back = 0;

        xdr_encoder_init(&x, 0, 0);
        g_assert_true(xdr_enc_double(&x, -INFINITY));
        check_hex("-inf", x.data, x.len, "fff00000 00000000");
        xdr_encoder_clear(&x);
        test_dec_init(&d, "7ff80000 00000000");
        g_assert_true(xdr_dec_double(&d.x, &back));
        g_assert_true(isnan(back));
        test_dec_clear(&d);
    }
}

/* char, unsigned char, short, unsigned short: one 4-byte word each */
static void
test_small_ints(void)
{
    XdrEncoder x;
    TestDec d;
    char c = 0;
    guint8 uc = 0;
    gint16 s = 0;
    guint16 us = 0;

    xdr_encoder_init(&x, 0, 0);
    g_assert_true(xdr_enc_char(&x, 'A'));
    g_assert_true(xdr_enc_char(&x, (char)-1));
    g_assert_true(xdr_enc_uchar(&x, 255));
    g_assert_true(xdr_enc_short(&x, -2));
    g_assert_true(xdr_enc_ushort(&x, 65535));
    check_hex("small ints", x.data, x.len,
              "00000041 ffffffff 000000ff fffffffe 0000ffff");
    xdr_encoder_clear(&x);

    test_dec_init(&d, "00000041 ffffffff 000000ff fffffffe 0000ffff");
    g_assert_true(xdr_dec_char(&d.x, &c));
    g_assert_cmpint(c, ==, 'A');
    g_assert_true(xdr_dec_char(&d.x, &c));
    g_assert_cmpint((signed char)c, ==, -1);
    g_assert_true(xdr_dec_uchar(&d.x, &uc));
    g_assert_cmpuint(uc, ==, 255);
    g_assert_true(xdr_dec_short(&d.x, &s));
    g_assert_cmpint(s, ==, -2);
    g_assert_true(xdr_dec_ushort(&d.x, &us));
    g_assert_cmpuint(us, ==, 65535);
    g_assert_cmpuint(xdr_dec_remaining(&d.x), ==, 0);
    test_dec_clear(&d);

    /* a word that does not fit the narrow type is refused */
    test_dec_init(&d, "00010000");
    g_assert_false(xdr_dec_ushort(&d.x, &us));
    test_dec_clear(&d);
    test_dec_init(&d, "00000100");
    g_assert_false(xdr_dec_uchar(&d.x, &uc));
    test_dec_clear(&d);
}

/* strings: length word, bytes, zero padding to 4; every padding length */
static void
test_string_padding(void)
{
    static const struct {
        const char *s;
        const char *hex;
    } strs[] = {
        { "", "00000000" },
        { "a", "00000001 61000000" },
        { "ab", "00000002 61620000" },
        { "abc", "00000003 61626300" },
        { "abcd", "00000004 61626364" },
        { "abcde", "00000005 61626364 65000000" },
        { "qemu:///system", "0000000e 71656d75 3a2f2f2f 73797374 656d0000" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(strs); i++) {
        RemoteConnectGetHostnameRet r = { (char *)strs[i].s };
        RemoteConnectGetHostnameRet back = { 0 };
        g_autofree char *what = g_strdup_printf("string '%s'", strs[i].s);

        check_encode(what, ENC(remote_connect_get_hostname_ret), &r, strs[i].hex);
        g_assert_true(decode_hex(strs[i].hex, DEC(remote_connect_get_hostname_ret),
                                 FREE(remote_connect_get_hostname_ret), &back, NULL));
        g_assert_cmpstr(back.hostname, ==, strs[i].s);
        xdr_free_remote_connect_get_hostname_ret(&back);
    }
}

/* optional string: absent = 0; present-empty = 1, 0; present = 1, string */
static void
test_string_optional(void)
{
    static const struct {
        const char *s;
        const char *hex;
    } opts[] = {
        { NULL, "00000000" },
        { "", "00000001 00000000" },
        { "kvm", "00000001 00000003 6b766d00" },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
        RemoteConnectGetMaxVcpusArgs a = { (char *)opts[i].s };
        RemoteConnectGetMaxVcpusArgs back = { 0 };

        check_encode("string?", ENC(remote_connect_get_max_vcpus_args), &a, opts[i].hex);
        g_assert_true(decode_hex(opts[i].hex, DEC(remote_connect_get_max_vcpus_args),
                                 FREE(remote_connect_get_max_vcpus_args), &back, NULL));
        g_assert_cmpstr(back.type, ==, opts[i].s);
        xdr_free_remote_connect_get_max_vcpus_args(&back);
    }
}

/* opaque[16]: 16 bytes, no length word; opaque<N>: length, bytes, pad */
static void
test_opaque(void)
{
    RemoteNonnullNetwork net = { (char *)"default", { 0 } };
    RemoteNonnullNetwork back = { 0 };
    const char *hex = "00000007 64656661 756c7400 " UUID_VM1_HEX;
    static const guint8 three[3] = { 0xde, 0xad, 0xbe };
    XdrEncoder x;
    TestDec d;
    guint8 *p = NULL;
    guint32 n = 0;

    memcpy(net.uuid, uuid_vm1, 16);
    check_encode("network with uuid", ENC(remote_nonnull_network), &net, hex);
    g_assert_true(decode_hex(hex, DEC(remote_nonnull_network), FREE(remote_nonnull_network),
                             &back, NULL));
    g_assert_cmpstr(back.name, ==, "default");
    g_assert_cmpmem(back.uuid, 16, uuid_vm1, 16);
    xdr_free_remote_nonnull_network(&back);

    xdr_encoder_init(&x, 0, 0);
    g_assert_true(xdr_enc_opaque_var(&x, three, 3, 16));
    g_assert_true(xdr_enc_opaque_var(&x, NULL, 0, 16));
    check_hex("opaque<16>", x.data, x.len, "00000003 deadbe00 00000000");
    g_assert_false(xdr_enc_opaque_var(&x, three, 3, 2));
    xdr_encoder_clear(&x);

    test_dec_init(&d, "00000003 deadbe00");
    g_assert_true(xdr_dec_opaque_var(&d.x, &p, &n, 16));
    g_assert_cmpmem(p, n, three, 3);
    g_free(p);
    test_dec_clear(&d);
}

/* NODE_GET_INFO: char model[32] is 32 words = 128 bytes; 160 in all */
static void
test_node_get_info(void)
{
    RemoteNodeGetInfoRet r = { .memory = 16318412, .cpus = 8, .mhz = 2400, .nodes = 1,
                               .sockets = 1, .cores = 4, .threads = 2 };
    RemoteNodeGetInfoRet back = { 0 };
    GString *hex = g_string_new(NULL);
    g_autofree char *want = NULL;
    const char *why = NULL;
    size_t len = 0;
    g_autofree guint8 *got = NULL;

    g_strlcpy(r.model, "x86_64", sizeof(r.model));
    for (int i = 0; i < 32; i++)
        g_string_append_printf(hex, "%08x ", (unsigned char)r.model[i]);
    g_string_append(hex, "00000000 00f8ffcc 00000008 00000960 00000001 00000001 00000004 00000002");
    want = g_string_free(hex, FALSE);

    got = encode(ENC(remote_node_get_info_ret), &r, &len, &why);
    g_assert_nonnull(got);
    g_assert_cmpuint(len, ==, 160);
    check_hex("NODE_GET_INFO ret", got, len, want);
    /* 'x' is the first word, not the first byte of a packed string */
    check_hex("model[0]", got, 4, "00000078");

    g_assert_true(decode_hex(want, DEC(remote_node_get_info_ret), FREE(remote_node_get_info_ret),
                             &back, NULL));
    g_assert_cmpstr(back.model, ==, "x86_64");
    g_assert_cmpuint(back.memory, ==, 16318412);
    g_assert_cmpint(back.threads, ==, 2);

    /* a model of all 32 characters has no NUL on the wire */
    memset(r.model, 'Z', sizeof(r.model));
    g_clear_pointer(&got, g_free);
    got = encode(ENC(remote_node_get_info_ret), &r, &len, &why);
    g_assert_cmpuint(len, ==, 160);
    for (int i = 0; i < 32; i++)
        check_hex("model word", got + 4 * i, 4, "0000005a");
}

/* char<N>: count then one word per byte; "none" goes as count 5 */
static void
test_security_model(void)
{
    RemoteNodeGetSecurityModelRet r = { 5, (char *)"none", 2, (char *)"0" };
    RemoteNodeGetSecurityModelRet back = { 0 };
    const char *hex = "00000005 0000006e 0000006f 0000006e 00000065 00000000 "
                      "00000002 00000030 00000000";

    check_encode("security model", ENC(remote_node_get_security_model_ret), &r, hex);
    g_assert_true(decode_hex(hex, DEC(remote_node_get_security_model_ret),
                             FREE(remote_node_get_security_model_ret), &back, NULL));
    g_assert_cmpuint(back.model_len, ==, 5);
    g_assert_cmpmem(back.model_val, 5, "none", 5);
    g_assert_cmpuint(back.doi_len, ==, 2);
    g_assert_cmpmem(back.doi_val, 2, "0", 2);
    xdr_free_remote_node_get_security_model_ret(&back);

    /* the SASL data char<65536> follows the same rule */
    {
        RemoteAuthSaslStepArgs a = { 0, 3, (char *)"n,," };
        check_encode("sasl data", ENC(remote_auth_sasl_step_args), &a,
                     "00000000 00000003 0000006e 0000002c 0000002c");
    }
}

/* typed parameters: field, then i32 type and the arm */
typedef struct {
    const char *name;
    RemoteTypedParam param;
    const char *hex;
} TypedCase;

static void
test_typed_param_arm(gconstpointer data)
{
    const TypedCase *tc = data;
    RemoteConnectSetIdentityArgs args = { 1, (RemoteTypedParam *)&tc->param, 0 };
    RemoteConnectSetIdentityArgs back = { 0 };
    g_autofree char *hex = g_strdup_printf("00000001 %s 00000000", tc->hex);
    const RemoteTypedParamValue *v;

    check_encode(tc->name, ENC(remote_typed_param), &tc->param, tc->hex);
    check_encode(tc->name, ENC(remote_connect_set_identity_args), &args, hex);
    g_assert_true(decode_hex(hex, DEC(remote_connect_set_identity_args),
                             FREE(remote_connect_set_identity_args), &back, NULL));
    g_assert_cmpuint(back.params_len, ==, 1);
    g_assert_cmpstr(back.params_val[0].field, ==, tc->param.field);
    v = &back.params_val[0].value;
    g_assert_cmpint(v->type, ==, tc->param.value.type);
    switch (v->type) {
    case 1: g_assert_cmpint(v->u.i, ==, tc->param.value.u.i); break;
    case 2: g_assert_cmpuint(v->u.ui, ==, tc->param.value.u.ui); break;
    case 3: g_assert_cmpint(v->u.l, ==, tc->param.value.u.l); break;
    case 4: g_assert_cmpuint(v->u.ul, ==, tc->param.value.u.ul); break;
    case 5: g_assert_true(v->u.d == tc->param.value.u.d); break;
    case 6: g_assert_cmpint(v->u.b, ==, tc->param.value.u.b); break;
    case 7: g_assert_cmpstr(v->u.s, ==, tc->param.value.u.s); break;
    default: g_assert_not_reached();
    }
    xdr_free_remote_connect_set_identity_args(&back);
}

static const TypedCase typed_cases[] = {
    { "int", { (char *)"weight", { 1, { .i = -5 } } },
      "00000006 77656967 68740000 00000001 fffffffb" },
    { "uint", { (char *)"granularity", { 2, { .ui = 65536 } } },
      "0000000b 6772616e 756c6172 69747900 00000002 00010000" },
    { "llong", { (char *)"process-id", { 3, { .l = -4242 } } },
      "0000000a 70726f63 6573732d 69640000 00000003 ffffffff ffffef6e" },
    { "ullong", { (char *)"bandwidth", { 4, { .ul = G_GUINT64_CONSTANT(0x100000000) } } },
      "00000009 62616e64 77696474 68000000 00000004 00000001 00000000" },
    { "double", { (char *)"ratio", { 5, { .d = 0.5 } } },
      "00000005 72617469 6f000000 00000005 3fe00000 00000000" },
    { "boolean", { (char *)"on", { 6, { .b = 1 } } },
      "00000002 6f6e0000 00000006 00000001" },
    { "string", { (char *)"user-name", { 7, { .s = (char *)"root" } } },
      "00000009 75736572 2d6e616d 65000000 00000007 00000004 726f6f74" },
};

/* T x<N>: count, then elements */
static void
test_variable_array(void)
{
    gint32 types[21] = { 2, 0 };
    RemoteAuthListRet r = { 0, types };
    RemoteAuthListRet back = { 0 };
    const char *why = NULL;
    size_t len = 0;
    guint8 *got;

    check_encode("empty array", ENC(remote_auth_list_ret), &r, "00000000");
    r.types_len = 2;
    check_encode("array of 2", ENC(remote_auth_list_ret), &r, "00000002 00000002 00000000");
    g_assert_true(decode_hex("00000002 00000002 00000000", DEC(remote_auth_list_ret),
                             FREE(remote_auth_list_ret), &back, NULL));
    g_assert_cmpuint(back.types_len, ==, 2);
    g_assert_cmpint(back.types_val[0], ==, 2);
    g_assert_cmpint(back.types_val[1], ==, 0);
    xdr_free_remote_auth_list_ret(&back);

    /* exactly the maximum is fine, one more is not */
    r.types_len = 20;
    got = encode(ENC(remote_auth_list_ret), &r, &len, &why);
    g_assert_nonnull(got);
    g_assert_cmpuint(len, ==, 4 + 20 * 4);
    g_free(got);
    r.types_len = 21;
    why = NULL;
    got = encode(ENC(remote_auth_list_ret), &r, &len, &why);
    g_assert_null(got);
    g_assert_nonnull(why);
}

/* remote_error: every field in order */
static void
test_remote_error(void)
{
    RemoteNonnullDomain dom = { (char *)"vm1", { 0 }, 3 };
    RemoteNonnullNetwork net = { (char *)"default", { 0 } };
    RemoteError full = { 42, 10, (char *)"Domain not found", 2, &dom, (char *)"a",
                         NULL, (char *)"", 7, -1, &net };
    RemoteError minimal = { 39, 7, (char *)"Cannot find program 1 version 1", 2,
                            NULL, NULL, NULL, NULL, 0, 0, NULL };
    RemoteError back = { 0 };
    const char *full_hex =
        "0000002a 0000000a "                                  /* code, domain */
        "00000001 00000010 446f6d61 696e206e 6f742066 6f756e64 "  /* message */
        "00000002 "                                           /* level */
        "00000001 00000003 766d3100 " UUID_VM1_HEX " 00000003 " /* dom */
        "00000001 00000001 61000000 "                         /* str1 */
        "00000000 "                                           /* str2 absent */
        "00000001 00000000 "                                  /* str3 present, empty */
        "00000007 ffffffff "                                  /* int1, int2 */
        "00000001 00000007 64656661 756c7400 " UUID_VM1_HEX;  /* net */
    const char *min_hex =
        "00000027 00000007 00000001 0000001f "
        "43616e6e 6f742066 696e6420 70726f67 72616d20 31207665 7273696f 6e203100 "
        "00000002 00000000 00000000 00000000 00000000 00000000 00000000 00000000";

    memcpy(dom.uuid, uuid_vm1, 16);
    memcpy(net.uuid, uuid_vm1, 16);
    check_encode("full error", ENC(remote_error), &full, full_hex);
    check_encode("minimal error", ENC(remote_error), &minimal, min_hex);

    g_assert_true(decode_hex(full_hex, DEC(remote_error), FREE(remote_error), &back, NULL));
    g_assert_cmpint(back.code, ==, 42);
    g_assert_cmpint(back.domain, ==, 10);
    g_assert_cmpstr(back.message, ==, "Domain not found");
    g_assert_cmpint(back.level, ==, 2);
    g_assert_nonnull(back.dom);
    g_assert_cmpstr(back.dom->name, ==, "vm1");
    g_assert_cmpint(back.dom->id, ==, 3);
    g_assert_cmpstr(back.str1, ==, "a");
    g_assert_null(back.str2);
    g_assert_cmpstr(back.str3, ==, "");
    g_assert_cmpint(back.int1, ==, 7);
    g_assert_cmpint(back.int2, ==, -1);
    g_assert_nonnull(back.net);
    g_assert_cmpstr(back.net->name, ==, "default");
    xdr_free_remote_error(&back);

    memset(&back, 0, sizeof(back));
    g_assert_true(decode_hex(min_hex, DEC(remote_error), FREE(remote_error), &back, NULL));
    g_assert_cmpstr(back.message, ==, minimal.message);
    g_assert_null(back.dom);
    g_assert_null(back.net);
    xdr_free_remote_error(&back);
}

/* The worked example of spec section 2: CONNECT_OPEN from virsh, 56 bytes */
static void
test_connect_open_example(void)
{
    RemoteConnectOpenArgs args = { (char *)"qemu:///system", 0 };
    RpcHeader hdr = { REMOTE_PROGRAM, REMOTE_PROTOCOL_VERSION, REMOTE_PROC_CONNECT_OPEN,
                      RPC_TYPE_CALL, 2, RPC_STATUS_OK };
    g_autoptr(GError) err = NULL;
    size_t len = 0;
    g_autofree guint8 *msg = rpc_message_build(&hdr, ENC(remote_connect_open_args), &args,
                                               &len, &err);
    RemoteConnectOpenArgs back = { 0 };

    g_assert_no_error(err);
    g_assert_cmpuint(len, ==, 56);
    check_hex("CONNECT_OPEN call", msg, len,
              "00000038 "                                     /* length 56 */
              "20008086 00000001 00000001 00000000 00000002 00000000" /* header */
              "00000001 0000000e 71656d75 3a2f2f2f 73797374 656d0000" /* name */
              "00000000");                                    /* flags */
    g_assert_true(rpc_payload_decode(msg + RPC_MIN_LEN, len - RPC_MIN_LEN,
                                     DEC(remote_connect_open_args), FREE(remote_connect_open_args),
                                     &back, &err));
    g_assert_cmpstr(back.name, ==, "qemu:///system");
    g_assert_cmpuint(back.flags, ==, 0);
    xdr_free_remote_connect_open_args(&back);
}

/* Structs that no procedure carries directly: sample values, encode,
 * decode, compare fields, re-encode to the same bytes. */
static void
test_roundtrip_refs(void)
{
    RemoteNonnullStorageVol vol = { (char *)"default", (char *)"vm1.qcow2",
                                    (char *)"/var/lib/images/vm1.qcow2" };
    RemoteNonnullStorageVol vback = { 0 };
    RemoteNonnullStoragePool pool = { (char *)"images", { 0 } };
    RemoteNonnullStoragePool pback = { 0 };
    RemoteNonnullDomainSnapshot snap = { (char *)"s1", { (char *)"vm1", { 0 }, -1 } };
    RemoteNonnullDomainSnapshot sback = { 0 };
    const char *vol_hex = "00000007 64656661 756c7400 00000009 766d312e 71636f77 32000000 "
                          "00000019 2f766172 2f6c6962 2f696d61 6765732f 766d312e 71636f77 32000000";
    const char *pool_hex = "00000006 696d6167 65730000 " UUID_VM1_HEX;
    const char *snap_hex = "00000002 73310000 00000003 766d3100 " UUID_VM1_HEX " ffffffff";

    memcpy(pool.uuid, uuid_vm1, 16);
    memcpy(snap.dom.uuid, uuid_vm1, 16);

    check_encode("storage vol", ENC(remote_nonnull_storage_vol), &vol, vol_hex);
    g_assert_true(decode_hex(vol_hex, DEC(remote_nonnull_storage_vol),
                             FREE(remote_nonnull_storage_vol), &vback, NULL));
    g_assert_cmpstr(vback.pool, ==, vol.pool);
    g_assert_cmpstr(vback.name, ==, vol.name);
    g_assert_cmpstr(vback.key, ==, vol.key);
    check_encode("storage vol again", ENC(remote_nonnull_storage_vol), &vback, vol_hex);
    xdr_free_remote_nonnull_storage_vol(&vback);

    check_encode("storage pool", ENC(remote_nonnull_storage_pool), &pool, pool_hex);
    g_assert_true(decode_hex(pool_hex, DEC(remote_nonnull_storage_pool),
                             FREE(remote_nonnull_storage_pool), &pback, NULL));
    g_assert_cmpstr(pback.name, ==, "images");
    g_assert_cmpmem(pback.uuid, 16, uuid_vm1, 16);
    xdr_free_remote_nonnull_storage_pool(&pback);

    check_encode("snapshot", ENC(remote_nonnull_domain_snapshot), &snap, snap_hex);
    g_assert_true(decode_hex(snap_hex, DEC(remote_nonnull_domain_snapshot),
                             FREE(remote_nonnull_domain_snapshot), &sback, NULL));
    g_assert_cmpstr(sback.name, ==, "s1");
    g_assert_cmpstr(sback.dom.name, ==, "vm1");
    g_assert_cmpint(sback.dom.id, ==, -1);
    check_encode("snapshot again", ENC(remote_nonnull_domain_snapshot), &sback, snap_hex);
    xdr_free_remote_nonnull_domain_snapshot(&sback);
}

/* ------------------------------------------------------------ rejects */

static void
test_reject_truncated(void)
{
    TestDec d;
    guint32 u = 0;
    guint64 h = 0;
    char *s = NULL;
    const char *full = "00000001 0000000e 71656d75 3a2f2f2f 73797374 656d0000 00000000";
    g_autoptr(GByteArray) bytes = hex_parse(full);

    test_dec_init(&d, "000000");
    g_assert_false(xdr_dec_u32(&d.x, &u));
    g_assert_nonnull(d.x.error);
    test_dec_clear(&d);
    test_dec_init(&d, "00000000 000000");
    g_assert_false(xdr_dec_u64(&d.x, &h));
    test_dec_clear(&d);
    /* the padding is part of the string: 'a' without its 3 pad bytes */
    test_dec_init(&d, "00000001 61");
    g_assert_false(xdr_dec_string(&d.x, &s, 100));
    g_assert_null(s);
    test_dec_clear(&d);

    /* every strict prefix of a CONNECT_OPEN payload is refused */
    for (size_t n = 0; n < bytes->len; n++) {
        RemoteConnectOpenArgs a = { 0 };
        g_autoptr(GError) err = NULL;

        if (rpc_payload_decode(bytes->data, n, DEC(remote_connect_open_args),
                               FREE(remote_connect_open_args), &a, &err)) {
            g_test_message("a %zu-byte prefix of CONNECT_OPEN args decoded", n);
            xdr_free_remote_connect_open_args(&a);
            g_test_fail();
        }
    }
}

static void
test_reject_trailing(void)
{
    check_reject("CONNECT_OPEN args + 4 bytes",
                 "00000000 00000000 00000000", DEC(remote_connect_open_args),
                 FREE(remote_connect_open_args), sizeof(RemoteConnectOpenArgs), "trailing");
}

/* A string of @declared bytes (with @present bytes of data, padded). */
static char *
big_string_hex(guint32 declared, guint32 present)
{
    GString *s = g_string_sized_new(present * 2 + 16);

    g_string_append_printf(s, "%08x", declared);
    for (guint32 i = 0; i < present; i++)
        g_string_append(s, "41");
    for (guint32 i = present; i % 4; i++)
        g_string_append(s, "00");
    return g_string_free(s, FALSE);
}

static void
test_reject_string_max(void)
{
    RemoteConnectGetHostnameRet r = { 0 };
    g_autofree char *at_max = big_string_hex(RPC_STRING_MAX, RPC_STRING_MAX);
    g_autofree char *over = big_string_hex(RPC_STRING_MAX + 1, RPC_STRING_MAX + 1);
    g_autofree char *over_short = big_string_hex(RPC_STRING_MAX + 1, 8);
    g_autofree char *big = g_malloc(RPC_STRING_MAX + 2);
    XdrEncoder x;

    g_assert_cmpint(RPC_STRING_MAX, ==, 4194304);
    /* exactly the maximum decodes */
    g_assert_true(decode_hex(at_max, DEC(remote_connect_get_hostname_ret),
                             FREE(remote_connect_get_hostname_ret), &r, NULL));
    g_assert_cmpuint(strlen(r.hostname), ==, RPC_STRING_MAX);
    xdr_free_remote_connect_get_hostname_ret(&r);
    /* one more is refused, whether the bytes are there or not */
    check_reject("string 4194305 (all sent)", over, DEC(remote_connect_get_hostname_ret),
                 FREE(remote_connect_get_hostname_ret), sizeof(r), "maximum");
    check_reject("string 4194305 (8 sent)", over_short, DEC(remote_connect_get_hostname_ret),
                 FREE(remote_connect_get_hostname_ret), sizeof(r), "maximum");
    /* the encoder refuses it too */
    memset(big, 'A', RPC_STRING_MAX + 1);
    big[RPC_STRING_MAX + 1] = '\0';
    r.hostname = big;
    xdr_encoder_init(&x, 0, 0);
    g_assert_false(xdr_enc_remote_connect_get_hostname_ret(&x, &r));
    g_assert_nonnull(x.error);
    xdr_encoder_clear(&x);
}

static void
test_reject_array_max(void)
{
    GString *hex = g_string_new("00000015");   /* 21 auth types, all present */
    GString *ident = g_string_new("00000015"); /* 21 identity params */
    GString *model = g_string_new("00000102"); /* 258 chars */

    for (int i = 0; i < 21; i++) {
        g_string_append(hex, " 00000000");
        g_string_append(ident, " 00000001 78000000 00000001 00000000");
    }
    g_string_append(ident, " 00000000");
    for (int i = 0; i < 258; i++)
        g_string_append(model, " 00000041");
    g_string_append(model, " 00000000");

    check_reject("21 auth types", hex->str, DEC(remote_auth_list_ret), FREE(remote_auth_list_ret),
                 sizeof(RemoteAuthListRet), "maximum");
    check_reject("21 identity params", ident->str, DEC(remote_connect_set_identity_args),
                 FREE(remote_connect_set_identity_args), sizeof(RemoteConnectSetIdentityArgs),
                 "maximum");
    check_reject("security model of 258", model->str, DEC(remote_node_get_security_model_ret),
                 FREE(remote_node_get_security_model_ret), sizeof(RemoteNodeGetSecurityModelRet),
                 "maximum");
    g_string_free(hex, TRUE);
    g_string_free(ident, TRUE);
    g_string_free(model, TRUE);
}

static void
test_reject_optional_marker(void)
{
    check_reject("string? marker 2", "00000002 00000000 00000000",
                 DEC(remote_connect_open_args), FREE(remote_connect_open_args),
                 sizeof(RemoteConnectOpenArgs), "optional");
    check_reject("string? marker ffffffff", "ffffffff 00000000 00000000",
                 DEC(remote_connect_open_args), FREE(remote_connect_open_args),
                 sizeof(RemoteConnectOpenArgs), "optional");
    check_reject("dom? marker 2", "00000000 00000002 00000003 766d3100 " UUID_VM1_HEX " ffffffff",
                 DEC(remote_connect_domain_event_callback_register_any_args),
                 FREE(remote_connect_domain_event_callback_register_any_args),
                 sizeof(RemoteConnectDomainEventCallbackRegisterAnyArgs), "optional");
    check_reject("error message marker 2",
                 "00000001 00000000 00000002 00000000 00000002 00000000 00000000 00000000 "
                 "00000000 00000000 00000000 00000000",
                 DEC(remote_error), FREE(remote_error), sizeof(RemoteError), "optional");
}

static void
test_reject_nul(void)
{
    check_reject("NUL inside a string", "00000003 61006200",
                 DEC(remote_connect_get_hostname_ret), FREE(remote_connect_get_hostname_ret),
                 sizeof(RemoteConnectGetHostnameRet), "NUL");
    check_reject("NUL in a typed-param field",
                 "00000001 00000002 78000000 00000001 00000000 00000000",
                 DEC(remote_connect_set_identity_args), FREE(remote_connect_set_identity_args),
                 sizeof(RemoteConnectSetIdentityArgs), "NUL");
    check_reject("NUL in the URI of CONNECT_OPEN", "00000001 00000004 71656d00 00000000",
                 DEC(remote_connect_open_args), FREE(remote_connect_open_args),
                 sizeof(RemoteConnectOpenArgs), "NUL");
}

/* Counts and lengths far beyond a tiny payload fail before any allocation.
 * Run in a child whose address space is capped: an allocation sized by the
 * count would abort it. */
static void
huge_counts_body(void)
{
    TestDec d;
    guint32 count = 0;
    guint8 *p = NULL;
    guint32 n = 0;
    char *s = NULL;

    test_dec_init(&d, "40000000 00000000 00000000");
    g_assert_false(xdr_dec_count(&d.x, &count, G_MAXUINT32));
    test_dec_clear(&d);
    test_dec_init(&d, "fffffff0 41414141");
    g_assert_false(xdr_dec_string(&d.x, &s, G_MAXUINT32));
    g_assert_null(s);
    test_dec_clear(&d);
    test_dec_init(&d, "fffffff0 41414141");
    g_assert_false(xdr_dec_opaque_var(&d.x, &p, &n, G_MAXUINT32));
    g_assert_null(p);
    test_dec_clear(&d);

    /* through the generated codecs, counts within the maxima */
    {
        RemoteAuthSaslStepArgs a = { 0 };
        RemoteConnectSetIdentityArgs id = { 0 };
        g_autofree char *msg = NULL;

        g_assert_false(decode_hex("00000000 00010000 00000041", DEC(remote_auth_sasl_step_args),
                                  FREE(remote_auth_sasl_step_args), &a, &msg));
        g_assert_nonnull(strstr(msg, "truncated"));
        g_assert_null(a.data_val);
        g_clear_pointer(&msg, g_free);
        g_assert_false(decode_hex("00000014 00000000", DEC(remote_connect_set_identity_args),
                                  FREE(remote_connect_set_identity_args), &id, &msg));
        g_assert_nonnull(strstr(msg, "truncated"));
        g_assert_null(id.params_val);
    }
}

static void
test_reject_huge_counts(void)
{
#if defined(__SANITIZE_ADDRESS__)
    /* ASan reserves terabytes of address space: no cap, just the checks */
    huge_counts_body();
#else
    if (g_test_subprocess()) {
        struct rlimit rl = { 256 << 20, 256 << 20 };
        g_assert_cmpint(setrlimit(RLIMIT_AS, &rl), ==, 0);
        huge_counts_body();
        return;
    }
    g_test_trap_subprocess(NULL, 20 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed();
#endif
}

static void
test_reject_union(void)
{
    static const gint32 bad[] = { 0, 8, -1, 0x7fffffff };

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *hex = g_strdup_printf(
            "00000001 00000001 78000000 %08x 00000000 00000000 00000000", (guint32)bad[i]);
        RemoteTypedParam p = { (char *)"x", { bad[i], { .i = 0 } } };
        XdrEncoder x;

        check_reject("typed param type", hex, DEC(remote_connect_set_identity_args),
                     FREE(remote_connect_set_identity_args),
                     sizeof(RemoteConnectSetIdentityArgs), "discriminant");
        xdr_encoder_init(&x, 0, 0);
        g_assert_false(xdr_enc_remote_typed_param(&x, &p));
        xdr_encoder_clear(&x);
    }
}

/* ------------------------------------------------------------ wire goldens */

static char *wire_dir;

static const char *
prog_name(guint32 prog)
{
    switch (prog) {
    case REMOTE_PROGRAM: return "remote";
    case QEMU_PROGRAM: return "qemu";
    case LXC_PROGRAM: return "lxc";
    case KEEPALIVE_PROGRAM: return "keepalive";
    case ADMIN_PROGRAM: return "admin";
    default: return "unknown";
    }
}

/* "remote-001-connect-open.args" */
static char *
wire_file_name(const RpcProcInfo *info, const char *kind)
{
    g_autofree char *lower = g_ascii_strdown(info->name, -1);

    g_strdelimit(lower, "_", '-');
    return g_strdup_printf("%s-%03d-%s.%s", prog_name(info->prog), info->proc, lower, kind);
}

typedef struct {
    const RpcProcInfo *info;
    const char *kind;        /* args, ret or msg */
} WireCase;

static void
test_wire_case(gconstpointer data)
{
    const WireCase *wc = data;
    bool is_ret = g_str_equal(wc->kind, "ret");
    RpcDecodeFunc dec = is_ret ? wc->info->dec_ret : wc->info->dec_args;
    RpcEncodeFunc enc = is_ret ? wc->info->enc_ret : wc->info->enc_args;
    RpcFreeFunc free_fn = is_ret ? wc->info->free_ret : wc->info->free_args;
    size_t size = is_ret ? wc->info->ret_size : wc->info->args_size;
    g_autofree char *name = wire_file_name(wc->info, wc->kind);
    g_autofree char *path = g_build_filename(wire_dir, name, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GByteArray) want = NULL;
    g_autoptr(GError) err = NULL;
    g_autofree void *v = g_malloc0(size);
    g_autofree guint8 *again = NULL;
    g_autoptr(GByteArray) longer = NULL;
    size_t len = 0;
    const char *why = NULL;
    static const guint8 zeros[4] = { 0 };

    if (!g_file_get_contents(path, &text, NULL, &err)) {
        g_test_message("no golden payload for %s %s: %s", wc->info->name, wc->kind, err->message);
        g_test_fail();
        return;
    }
    want = hex_parse(text);
    g_assert_cmpuint(want->len % 4, ==, 0);

    if (!rpc_payload_decode(want->data, want->len, dec, free_fn, v, &err)) {
        g_test_message("%s: decoding the golden payload failed: %s", name, err->message);
        g_test_fail();
        return;
    }
    again = encode(enc, v, &len, &why);
    if (!again) {
        g_test_message("%s: re-encoding failed: %s", name, why ? why : "?");
        g_test_fail();
    } else {
        check_bytes(name, again, len, want->data, want->len);
    }
    free_fn(v);

    /* every truncation fails, and so does one extra word */
    for (size_t n = 0; n < want->len; n++) {
        g_autoptr(GError) e = NULL;

        memset(v, 0, size);
        if (rpc_payload_decode(want->data, n, dec, free_fn, v, &e)) {
            g_test_message("%s: a %zu-byte prefix decoded", name, n);
            free_fn(v);
            g_test_fail();
        }
    }
    longer = g_byte_array_new();
    g_byte_array_append(longer, want->data, want->len);
    g_byte_array_append(longer, zeros, 4);
    memset(v, 0, size);
    g_clear_error(&err);
    if (rpc_payload_decode(longer->data, longer->len, dec, free_fn, v, &err)) {
        g_test_message("%s: decoded with 4 trailing bytes", name);
        free_fn(v);
        g_test_fail();
    }
}

/* Every described struct has a golden file; every golden file names a
 * procedure libvirt has (files for procedures protocol.def does not
 * describe yet wait for them) with the right kind of payload. */
static void
test_wire_coverage(void)
{
    g_autoptr(GHashTable) expected = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) waiting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) err = NULL;
    const RpcProcInfo *table;
    size_t count = 0;
    const char *entry;
    guint described = 0;
    guint pending = 0;

    table = rpc_proc_table(&count);
    for (size_t i = 0; i < count; i++) {
        const char *akind = table[i].is_message ? "msg" : "args";

        if (!table[i].described) {
            /* not described yet: a golden file may wait for it */
            g_hash_table_add(waiting, wire_file_name(&table[i], akind));
            if (!table[i].is_message)
                g_hash_table_add(waiting, wire_file_name(&table[i], "ret"));
            continue;
        }
        described++;
        if (table[i].args_size)
            g_hash_table_add(expected, wire_file_name(&table[i], akind));
        if (table[i].ret_size)
            g_hash_table_add(expected, wire_file_name(&table[i], "ret"));
    }
    g_assert_cmpuint(described, >, 0);
    dir = g_dir_open(wire_dir, 0, &err);
    g_assert_no_error(err);
    while ((entry = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(entry, ".args") && !g_str_has_suffix(entry, ".ret") &&
            !g_str_has_suffix(entry, ".msg"))
            continue;     /* README, gen-wire.py */
        if (g_hash_table_remove(expected, entry))
            continue;
        if (g_hash_table_contains(waiting, entry)) {
            pending++;
            continue;
        }
        g_test_message("golden file %s matches no procedure of that name, number and "
                       "payload kind (a void payload has no file)", entry);
        g_test_fail();
    }
    g_test_message("%u golden files wait for procedures protocol.def does not describe yet",
                   pending);
    if (g_hash_table_size(expected)) {
        GHashTableIter it;
        gpointer key;

        g_hash_table_iter_init(&it, expected);
        while (g_hash_table_iter_next(&it, &key, NULL))
            g_test_message("missing golden file %s (add it to tests/data/wire/gen-wire.py "
                           "from the spec's layout)", (const char *)key);
        g_test_fail();
    }
}

/* What the golden payloads mean, for the ones a client looks at closely. */
static void
test_wire_meaning(void)
{
    const RpcProcInfo *info;
    g_autofree char *text = NULL;
    g_autofree char *path = NULL;
    g_autoptr(GByteArray) b = NULL;

    /* CONNECT_SET_IDENTITY: the identity a daemon forwards */
    info = rpc_proc_lookup(REMOTE_PROGRAM, REMOTE_PROC_CONNECT_SET_IDENTITY);
    g_assert_nonnull(info);
    g_assert_false(info->readonly);
    path = g_build_filename(wire_dir, "remote-419-connect-set-identity.args", NULL);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    b = hex_parse(text);
    {
        RemoteConnectSetIdentityArgs a = { 0 };
        g_autoptr(GError) err = NULL;

        g_assert_true(rpc_payload_decode(b->data, b->len, info->dec_args, info->free_args,
                                         &a, &err));
        g_assert_cmpuint(a.params_len, ==, 6);
        g_assert_cmpstr(a.params_val[0].field, ==, "user-name");
        g_assert_cmpint(a.params_val[0].value.type, ==, 7);
        g_assert_cmpstr(a.params_val[0].value.u.s, ==, "root");
        g_assert_cmpstr(a.params_val[4].field, ==, "process-id");
        g_assert_cmpint(a.params_val[4].value.type, ==, 3);
        g_assert_cmpint(a.params_val[4].value.u.l, ==, 4242);
        g_assert_cmpuint(a.params_val[5].value.u.ul, ==, 123456789);
        xdr_free_remote_connect_set_identity_args(&a);
    }
    g_clear_pointer(&text, g_free);
    g_clear_pointer(&path, g_free);
    g_clear_pointer(&b, g_byte_array_unref);

    /* DOMAIN_EVENT_CALLBACK_LIFECYCLE as virsh prints it */
    info = rpc_proc_lookup(REMOTE_PROGRAM, 318);
    g_assert_nonnull(info);
    g_assert_true(info->is_message);
    path = g_build_filename(wire_dir, "remote-318-domain-event-callback-lifecycle.msg", NULL);
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    b = hex_parse(text);
    {
        RemoteDomainEventCallbackLifecycleMsg m = { 0 };
        g_autoptr(GError) err = NULL;

        g_assert_true(rpc_payload_decode(b->data, b->len, info->dec_args, info->free_args,
                                         &m, &err));
        g_assert_cmpint(m.callbackID, ==, 2);
        g_assert_cmpstr(m.msg.dom.name, ==, "vm1");
        g_assert_cmpmem(m.msg.dom.uuid, 16, uuid_vm1, 16);
        g_assert_cmpint(m.msg.dom.id, ==, -1);
        g_assert_cmpint(m.msg.event, ==, 5);
        g_assert_cmpint(m.msg.detail, ==, 1);
        xdr_free_remote_domain_event_callback_lifecycle_msg(&m);
    }
}

static char *
find_wire_dir(void)
{
    const char *env = g_getenv("MODVIRT_TEST_DATADIR");
    g_autofree char *cand = NULL;

    if (env && *env)
        return g_build_filename(env, "wire", NULL);
#ifdef MODVIRT_SRCDIR
    (void)cand;
    return g_build_filename(MODVIRT_SRCDIR, "tests", "data", "wire", NULL);
#else
    if (g_getenv("G_TEST_SRCDIR"))
        return g_test_build_filename(G_TEST_DIST, "..", "data", "wire", NULL);
    /* run from the source tree or the build tree next to it */
    cand = g_build_filename("tests", "data", "wire", NULL);
    if (g_file_test(cand, G_FILE_TEST_IS_DIR))
        return g_steal_pointer(&cand);
    return g_build_filename("..", "tests", "data", "wire", NULL);
#endif
}

int
main(int argc, char **argv)
{
    const RpcProcInfo *table;
    size_t count = 0;

    g_test_init(&argc, &argv, NULL);
    wire_dir = find_wire_dir();
    g_test_message("golden payloads in %s", wire_dir);

    g_test_add_func("/xdr/primitive/int32", test_int32);
    g_test_add_func("/xdr/primitive/hyper", test_hyper);
    g_test_add_func("/xdr/primitive/double", test_double);
    g_test_add_func("/xdr/primitive/char-short-widened", test_small_ints);
    g_test_add_func("/xdr/primitive/string-padding", test_string_padding);
    g_test_add_func("/xdr/primitive/string-optional", test_string_optional);
    g_test_add_func("/xdr/primitive/opaque", test_opaque);
    g_test_add_func("/xdr/primitive/node-info-model-128-bytes", test_node_get_info);
    g_test_add_func("/xdr/primitive/char-array-security-model", test_security_model);
    for (size_t i = 0; i < G_N_ELEMENTS(typed_cases); i++) {
        g_autofree char *p = g_strdup_printf("/xdr/primitive/typed-param/%s", typed_cases[i].name);
        g_test_add_data_func(p, &typed_cases[i], test_typed_param_arm);
    }
    g_test_add_func("/xdr/primitive/variable-array", test_variable_array);
    g_test_add_func("/xdr/primitive/remote-error", test_remote_error);
    g_test_add_func("/xdr/primitive/connect-open-example", test_connect_open_example);
    g_test_add_func("/xdr/primitive/roundtrip-references", test_roundtrip_refs);

    g_test_add_func("/xdr/reject/truncated", test_reject_truncated);
    g_test_add_func("/xdr/reject/trailing", test_reject_trailing);
    g_test_add_func("/xdr/reject/string-over-max", test_reject_string_max);
    g_test_add_func("/xdr/reject/array-over-max", test_reject_array_max);
    g_test_add_func("/xdr/reject/optional-marker", test_reject_optional_marker);
    g_test_add_func("/xdr/reject/nul-in-string", test_reject_nul);
    g_test_add_func("/xdr/reject/huge-counts", test_reject_huge_counts);
    g_test_add_func("/xdr/reject/union-discriminant", test_reject_union);

    g_test_add_func("/xdr/wire/coverage", test_wire_coverage);
    g_test_add_func("/xdr/wire/meaning", test_wire_meaning);
    table = rpc_proc_table(&count);
    for (size_t i = 0; i < count; i++) {
        const RpcProcInfo *info = &table[i];
        const char *kinds[2] = { NULL, NULL };

        if (!info->described)
            continue;
        if (info->args_size)
            kinds[0] = info->is_message ? "msg" : "args";
        if (info->ret_size)
            kinds[1] = "ret";
        for (int k = 0; k < 2; k++) {
            WireCase *wc;
            g_autofree char *name = NULL;
            g_autofree char *p = NULL;

            if (!kinds[k])
                continue;
            wc = g_new0(WireCase, 1);
            wc->info = info;
            wc->kind = kinds[k];
            name = wire_file_name(info, kinds[k]);
            p = g_strdup_printf("/xdr/wire/%s", name);
            g_test_add_data_func_full(p, wc, test_wire_case, g_free);
        }
    }
    return g_test_run();
}
