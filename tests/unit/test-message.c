/*
 * test-message.c: libvirt RPC framing (spec/rpc-wire.md sections 1 and 4.2)
 * through shared/rpc/rpc-message: the 24-byte big-endian header, whole
 * messages from rpc_message_build, error replies from
 * rpc_message_build_error compared with hand-written bytes, the client-side
 * 'unknown procedure' -> VIR_ERR_NO_SUPPORT rewrite, and the keepalive PING
 * virsh sends.
 */
#define G_LOG_DOMAIN "modvirt.test.message"

#include <gio/gio.h>
#include <glib.h>
#include <string.h>

#include "rpc-message.h"
#include "rpc-protocol.h"
#include "util-error.h"

/* ------------------------------------------------------------ helpers */

static GByteArray *
hex_parse(const char *text)
{
    GByteArray *out = g_byte_array_new();
    int nibble = -1;

    for (const char *p = text; *p; p++) {
        int v;

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

#define ENC(T) ((RpcEncodeFunc)xdr_enc_##T)

/* ------------------------------------------------------------ header */

static void
test_header_encode(void)
{
    RpcHeader hdr = { REMOTE_PROGRAM, 1, 419, RPC_TYPE_REPLY, 0xfffffffe, RPC_STATUS_ERROR };
    RpcHeader back = { 0 };
    guint8 msg[RPC_MIN_LEN];

    memset(msg, 0xaa, sizeof(msg));
    rpc_header_encode(&hdr, msg);
    /* the length word is not the header's business */
    check_hex("header", msg, sizeof(msg),
              "aaaaaaaa 20008086 00000001 000001a3 00000001 fffffffe 00000001");
    rpc_header_decode(msg, &back);
    g_assert_cmpuint(back.prog, ==, REMOTE_PROGRAM);
    g_assert_cmpuint(back.vers, ==, 1);
    g_assert_cmpint(back.proc, ==, 419);
    g_assert_cmpint(back.type, ==, RPC_TYPE_REPLY);
    g_assert_cmpuint(back.serial, ==, 0xfffffffe);
    g_assert_cmpint(back.status, ==, RPC_STATUS_ERROR);
    g_assert_cmpint(RPC_OFFSET_SERIAL, ==, 20);
    g_assert_cmpuint(rpc_read_u32(msg + RPC_OFFSET_SERIAL), ==, 0xfffffffe);
}

static void
test_header_decode(void)
{
    /* signed fields come back negative; unsigned stay large */
    g_autoptr(GByteArray) b = hex_parse(
        "0000001c 6b656570 00000001 ffffffff 00000009 80000000 fffffffe");
    RpcHeader hdr = { 0 };

    g_assert_cmpint(RPC_HEADER_SIZE, ==, 24);
    g_assert_cmpint(RPC_MIN_LEN, ==, 28);
    g_assert_cmpint(RPC_MAX_MESSAGE, ==, 33554432);
    rpc_header_decode(b->data, &hdr);
    g_assert_cmpuint(hdr.prog, ==, 0x6b656570);
    g_assert_cmpuint(hdr.vers, ==, 1);
    g_assert_cmpint(hdr.proc, ==, -1);
    g_assert_cmpint(hdr.type, ==, 9);
    g_assert_cmpuint(hdr.serial, ==, 0x80000000u);
    g_assert_cmpint(hdr.status, ==, -2);
    g_assert_cmpuint(rpc_read_u32(b->data), ==, 28);
    {
        guint8 w[4];
        rpc_write_u32(w, 0x01020304);
        check_hex("u32", w, 4, "01020304");
    }
}

/* ------------------------------------------------------------ whole messages */

static void
test_build_void(void)
{
    RpcHeader hdr = { REMOTE_PROGRAM, 1, REMOTE_PROC_CONNECT_GET_LIB_VERSION, RPC_TYPE_CALL, 5,
                      RPC_STATUS_OK };
    g_autoptr(GError) err = NULL;
    size_t len = 0;
    g_autofree guint8 *msg = rpc_message_build(&hdr, NULL, NULL, &len, &err);

    g_assert_no_error(err);
    g_assert_cmpuint(len, ==, 28);
    check_hex("CONNECT_GET_LIB_VERSION call", msg, len,
              "0000001c 20008086 00000001 0000009d 00000000 00000005 00000000");
}

static void
test_build_payload(void)
{
    RemoteConnectGetLibVersionRet ret = { 9000000 };
    RpcHeader hdr = { REMOTE_PROGRAM, 1, REMOTE_PROC_CONNECT_GET_LIB_VERSION, RPC_TYPE_REPLY, 5,
                      RPC_STATUS_OK };
    RemoteConnectOpenArgs open = { (char *)"qemu:///system", 0 };
    RpcHeader ohdr = { REMOTE_PROGRAM, 1, REMOTE_PROC_CONNECT_OPEN, RPC_TYPE_CALL, 2,
                       RPC_STATUS_OK };
    AdminConnectOpenArgs aopen = { 0 };
    RpcHeader ahdr = { ADMIN_PROGRAM, 1, 1, RPC_TYPE_CALL, 0, RPC_STATUS_OK };
    g_autoptr(GError) err = NULL;
    size_t len = 0;
    g_autofree guint8 *msg = rpc_message_build(&hdr, ENC(remote_connect_get_lib_version_ret),
                                               &ret, &len, &err);
    g_autofree guint8 *omsg = NULL;
    g_autofree guint8 *amsg = NULL;

    g_assert_no_error(err);
    check_hex("CONNECT_GET_LIB_VERSION reply", msg, len,
              "00000024 20008086 00000001 0000009d 00000001 00000005 00000000 "
              "00000000 00895440");

    omsg = rpc_message_build(&ohdr, ENC(remote_connect_open_args), &open, &len, &err);
    g_assert_no_error(err);
    check_hex("CONNECT_OPEN call (spec 2)", omsg, len,
              "00000038 20008086 00000001 00000001 00000000 00000002 00000000 "
              "00000001 0000000e 71656d75 3a2f2f2f 73797374 656d0000 00000000");

    amsg = rpc_message_build(&ahdr, ENC(admin_connect_open_args), &aopen, &len, &err);
    g_assert_no_error(err);
    check_hex("ADMIN_CONNECT_OPEN call", amsg, len,
              "00000020 06900690 00000001 00000001 00000000 00000000 00000000 00000000");
}

static void
test_build_over_bound(void)
{
    gint32 types[21] = { 0 };
    RemoteAuthListRet ret = { 21, types };
    RpcHeader hdr = { REMOTE_PROGRAM, 1, REMOTE_PROC_AUTH_LIST, RPC_TYPE_REPLY, 0, RPC_STATUS_OK };
    g_autoptr(GError) err = NULL;
    size_t len = 12345;
    guint8 *msg = rpc_message_build(&hdr, ENC(remote_auth_list_ret), &ret, &len, &err);

    g_assert_null(msg);
    g_assert_nonnull(err);
    g_assert_cmpint(util_error_code(err), ==, VIR_ERR_RPC);
    g_assert_cmpint(util_error_domain(err), ==, VIR_FROM_RPC);
    g_assert_true(g_str_has_prefix(err->message, "Unable to encode message payload"));
}

/* More than 32 MiB of payload: refused, not sent */
static void
test_build_too_large(void)
{
    g_autofree char *big = g_malloc(RPC_STRING_MAX + 1);
    RemoteTypedParam params[RPC_CONNECT_IDENTITY_PARAMS_MAX];
    RemoteConnectSetIdentityArgs args = { RPC_CONNECT_IDENTITY_PARAMS_MAX, params, 0 };
    RpcHeader hdr = { REMOTE_PROGRAM, 1, REMOTE_PROC_CONNECT_SET_IDENTITY, RPC_TYPE_CALL, 0,
                      RPC_STATUS_OK };
    g_autoptr(GError) err = NULL;
    size_t len = 0;
    guint8 *msg;

    memset(big, 'x', RPC_STRING_MAX);
    big[RPC_STRING_MAX] = '\0';
    for (int i = 0; i < RPC_CONNECT_IDENTITY_PARAMS_MAX; i++)
        params[i] = (RemoteTypedParam) { big, { 7, { .s = big } } };
    msg = rpc_message_build(&hdr, ENC(remote_connect_set_identity_args), &args, &len, &err);
    g_assert_null(msg);
    g_assert_nonnull(err);
    g_assert_cmpint(util_error_code(err), ==, VIR_ERR_RPC);
    g_assert_nonnull(strstr(err->message, "too large"));

    /* 3 params x 2 strings x 4 MiB fit under 32 MiB */
    g_clear_error(&err);
    args.params_len = 3;
    msg = rpc_message_build(&hdr, ENC(remote_connect_set_identity_args), &args, &len, &err);
    g_assert_no_error(err);
    g_assert_nonnull(msg);
    g_assert_cmpuint(rpc_read_u32(msg), ==, len);
    g_assert_cmpuint(len - 4, <=, RPC_MAX_MESSAGE);
    g_free(msg);
}

/* ------------------------------------------------------------ errors */

/* The minimal error payload of spec 1.8: code, domain, 1, string, level 2,
 * then dom, str1, str2, str3 absent, int1, int2 zero, net absent. */
static void
test_error_reply(void)
{
    RpcHeader call = { REMOTE_PROGRAM, 1, 999, RPC_TYPE_CALL, 7, RPC_STATUS_OK };
    g_autoptr(GError) gerr = g_error_new_literal(util_error_quark(VIR_FROM_RPC), VIR_ERR_RPC,
                                                 "unknown procedure: 999");
    size_t len = 0;
    g_autofree guint8 *msg = rpc_message_build_error(&call, gerr, &len);
    static const guint8 want[] = {
        0x00, 0x00, 0x00, 0x64,               /* length 100 */
        0x20, 0x00, 0x80, 0x86,               /* prog: echoed */
        0x00, 0x00, 0x00, 0x01,               /* vers: echoed */
        0x00, 0x00, 0x03, 0xe7,               /* proc 999: echoed */
        0x00, 0x00, 0x00, 0x01,               /* type REPLY */
        0x00, 0x00, 0x00, 0x07,               /* serial 7: echoed */
        0x00, 0x00, 0x00, 0x01,               /* status ERROR */
        0x00, 0x00, 0x00, 0x27,               /* code 39 VIR_ERR_RPC */
        0x00, 0x00, 0x00, 0x07,               /* domain 7 VIR_FROM_RPC */
        0x00, 0x00, 0x00, 0x01,               /* message: present */
        0x00, 0x00, 0x00, 0x16,               /* 22 bytes */
        'u', 'n', 'k', 'n', 'o', 'w', 'n', ' ', 'p', 'r', 'o', 'c',
        'e', 'd', 'u', 'r', 'e', ':', ' ', '9', '9', '9', 0x00, 0x00,
        0x00, 0x00, 0x00, 0x02,               /* level 2 VIR_ERR_ERROR */
        0x00, 0x00, 0x00, 0x00,               /* dom: absent */
        0x00, 0x00, 0x00, 0x00,               /* str1: absent */
        0x00, 0x00, 0x00, 0x00,               /* str2: absent */
        0x00, 0x00, 0x00, 0x00,               /* str3: absent */
        0x00, 0x00, 0x00, 0x00,               /* int1 */
        0x00, 0x00, 0x00, 0x00,               /* int2 */
        0x00, 0x00, 0x00, 0x00,               /* net: absent */
    };

    g_assert_nonnull(msg);
    check_bytes("error reply", msg, len, want, sizeof(want));
}

/* An error for an admin call, a CALL_WITH_FDS and a GError from outside
 * libvirt's domains (INTERNAL_ERROR, domain NONE). */
static void
test_error_reply_foreign(void)
{
    RpcHeader call = { ADMIN_PROGRAM, 1, 3, RPC_TYPE_CALL_WITH_FDS, 0x01020304, RPC_STATUS_OK };
    g_autoptr(GError) gerr = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "boom");
    size_t len = 0;
    g_autofree guint8 *msg = rpc_message_build_error(&call, gerr, &len);

    /* a failed CALL_WITH_FDS is answered with a plain REPLY (spec 1.4) */
    check_hex("foreign error reply", msg, len,
              "00000050 06900690 00000001 00000003 00000001 01020304 00000001 "
              "00000001 00000000 00000001 00000004 626f6f6d 00000002 "
              "00000000 00000000 00000000 00000000 00000000 00000000 00000000");
}

/* A message over the string maximum cannot go out as is */
static void
test_error_reply_long(void)
{
    RpcHeader call = { REMOTE_PROGRAM, 1, 7, RPC_TYPE_CALL, 1, RPC_STATUS_OK };
    g_autofree char *text = g_malloc(RPC_STRING_MAX + 2);
    g_autoptr(GError) gerr = NULL;
    size_t len = 0;
    g_autofree guint8 *msg = NULL;
    RemoteError back = { 0 };
    g_autoptr(GError) err = NULL;

    memset(text, 'e', RPC_STRING_MAX + 1);
    text[RPC_STRING_MAX + 1] = '\0';
    gerr = g_error_new_literal(util_error_quark(VIR_FROM_QEMU), VIR_ERR_OPERATION_FAILED, text);
    msg = rpc_message_build_error(&call, gerr, &len);
    g_assert_nonnull(msg);
    g_assert_cmpuint(rpc_read_u32(msg), ==, len);
    g_assert_true(rpc_payload_decode(msg + RPC_MIN_LEN, len - RPC_MIN_LEN,
                                     (RpcDecodeFunc)xdr_dec_remote_error,
                                     (RpcFreeFunc)xdr_free_remote_error, &back, &err));
    g_assert_cmpint(back.code, ==, VIR_ERR_OPERATION_FAILED);
    g_assert_cmpint(back.domain, ==, VIR_FROM_QEMU);
    g_assert_cmpint(back.level, ==, 2);
    g_assert_nonnull(back.message);
    g_assert_cmpuint(strlen(back.message), <=, RPC_STRING_MAX);
    xdr_free_remote_error(&back);
}

static void
test_error_from_gerror(void)
{
    g_autoptr(GError) gerr = g_error_new_literal(util_error_quark(VIR_FROM_REMOTE),
                                                 VIR_ERR_OPERATION_DENIED,
                                                 "operation forbidden: read only access");
    RemoteError e;

    memset(&e, 0x55, sizeof(e));
    rpc_error_from_gerror(&e, gerr);
    g_assert_cmpint(e.code, ==, 29);
    g_assert_cmpint(e.domain, ==, 13);
    g_assert_cmpstr(e.message, ==, "operation forbidden: read only access");
    g_assert_cmpint(e.level, ==, 2);
    g_assert_null(e.dom);
    g_assert_null(e.str1);
    g_assert_null(e.str2);
    g_assert_null(e.str3);
    g_assert_cmpint(e.int1, ==, 0);
    g_assert_cmpint(e.int2, ==, 0);
    g_assert_null(e.net);
    xdr_free_remote_error(&e);
}

/* spec 1.7: code 39, domain 7 or 13, level 2, message starting 'unknown
 * procedure' -> VIR_ERR_NO_SUPPORT; spec 1.8: 61-63 outside NWFILTER +4,
 * 64 from QEMU -> 68, 65 from XEN -> 69; anything else is left alone */
static void
test_error_to_gerror(void)
{
    static const struct {
        int code, domain, level;
        const char *message;
        int want_code;
    } cases[] = {
        { 39, 7, 2, "unknown procedure: 426", VIR_ERR_NO_SUPPORT },
        { 39, 13, 2, "unknown procedure", VIR_ERR_NO_SUPPORT },
        { 39, 7, 2, "unknown procedure 426 in program 0x20008086", VIR_ERR_NO_SUPPORT },
        { 39, 10, 2, "unknown procedure: 426", 39 },   /* other domain */
        { 39, 7, 1, "unknown procedure: 426", 39 },    /* a warning */
        { 1, 7, 2, "unknown procedure: 426", 1 },      /* other code */
        { 39, 7, 2, "Unknown procedure: 426", 39 },    /* the prefix is exact */
        { 39, 7, 2, "Cannot find program 1 version 1", 39 },
        { 39, 7, 2, NULL, 39 },
        { 42, 20, 2, "Domain not found", 42 },
        /* spec 1.8: codes of very old servers, renumbered by 9.0 clients */
        { 61, 0, 2, "invalid secret", 65 },
        { 62, 30, 2, "secret not found", 66 },
        { 63, 10, 2, "unsupported configuration", 67 },
        { 61, 33, 2, "invalid nwfilter", 61 },          /* NWFILTER keeps 61-63 */
        { 63, 33, 2, "firewall build failed", 63 },
        { 64, 10, 2, "operation timed out", 68 },        /* QEMU */
        { 64, 0, 1, "no secret", 64 },
        { 65, 1, 2, "persist failed", 69 },              /* XEN */
        { 65, 30, 2, "invalid secret", 65 },
        { 60, 0, 2, "untouched", 60 },
        { 66, 0, 2, "untouched", 66 },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        RemoteError e = { cases[i].code, cases[i].domain, (char *)cases[i].message,
                          cases[i].level };
        g_autoptr(GError) g = rpc_error_to_gerror(&e);

        g_assert_nonnull(g);
        if (util_error_code(g) != cases[i].want_code) {
            g_test_message("error %d/%d/%d '%s' became code %d, expected %d", cases[i].code,
                           cases[i].domain, cases[i].level,
                           cases[i].message ? cases[i].message : "(null)",
                           util_error_code(g), cases[i].want_code);
            g_test_fail();
        }
        g_assert_cmpint(util_error_domain(g), ==, cases[i].domain);
        if (cases[i].message)
            g_assert_cmpstr(g->message, ==, cases[i].message);
        else
            g_assert_nonnull(g->message);
    }
}

/* ------------------------------------------------------------ keepalive */

static void
test_keepalive(void)
{
    RpcHeader ping = { KEEPALIVE_PROGRAM, 1, 1, RPC_TYPE_MESSAGE, 0, RPC_STATUS_OK };
    RpcHeader pong = { KEEPALIVE_PROGRAM, 1, 2, RPC_TYPE_MESSAGE, 0, RPC_STATUS_OK };
    g_autoptr(GError) err = NULL;
    size_t len = 0;
    g_autofree guint8 *m1 = rpc_message_build(&ping, NULL, NULL, &len, &err);
    g_autofree guint8 *m2 = NULL;

    g_assert_no_error(err);
    g_assert_cmpuint(len, ==, 28);
    /* observed: virsh's PING */
    check_hex("PING", m1, len, "0000001c 6b656570 00000001 00000001 00000002 00000000 00000000");
    m2 = rpc_message_build(&pong, NULL, NULL, &len, &err);
    g_assert_no_error(err);
    check_hex("PONG", m2, len, "0000001c 6b656570 00000001 00000002 00000002 00000000 00000000");
    g_assert_true(rpc_program_known(KEEPALIVE_PROGRAM, 1));
    g_assert_false(rpc_program_known(KEEPALIVE_PROGRAM, 2));
}

static void
test_programs(void)
{
    g_assert_cmphex(REMOTE_PROGRAM, ==, 0x20008086);
    g_assert_cmphex(QEMU_PROGRAM, ==, 0x20008087);
    g_assert_cmphex(LXC_PROGRAM, ==, 0x00068000);
    g_assert_cmphex(ADMIN_PROGRAM, ==, 0x06900690);
    g_assert_cmphex(KEEPALIVE_PROGRAM, ==, 0x6b656570);
    g_assert_true(rpc_program_known(REMOTE_PROGRAM, 1));
    g_assert_true(rpc_program_known(QEMU_PROGRAM, 1));
    g_assert_true(rpc_program_known(LXC_PROGRAM, 1));
    g_assert_true(rpc_program_known(ADMIN_PROGRAM, 1));
    g_assert_false(rpc_program_known(REMOTE_PROGRAM, 2));
    g_assert_false(rpc_program_known(0x0EA7BEEF, 1));   /* virtlockd: not ours */
    g_assert_false(rpc_program_known(0x87539319, 1));   /* virtlogd */
}

static void
test_type_names(void)
{
    static const char *const names[] = {
        "call", "reply", "message", "stream", "call-with-fds", "reply-with-fds", "stream-hole",
    };

    g_assert_cmpint(RPC_TYPE_LAST, ==, 7);
    for (int i = 0; i < RPC_TYPE_LAST; i++)
        g_assert_cmpstr(rpc_type_name(i), ==, names[i]);
    g_assert_cmpstr(rpc_type_name(7), ==, "unknown");
    g_assert_cmpstr(rpc_type_name(-1), ==, "unknown");
    g_assert_cmpint(RPC_STATUS_OK, ==, 0);
    g_assert_cmpint(RPC_STATUS_ERROR, ==, 1);
    g_assert_cmpint(RPC_STATUS_CONTINUE, ==, 2);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/message/header/encode", test_header_encode);
    g_test_add_func("/message/header/decode", test_header_decode);
    g_test_add_func("/message/build/void", test_build_void);
    g_test_add_func("/message/build/payload", test_build_payload);
    g_test_add_func("/message/build/over-bound", test_build_over_bound);
    g_test_add_func("/message/build/too-large", test_build_too_large);
    g_test_add_func("/message/error/reply", test_error_reply);
    g_test_add_func("/message/error/reply-foreign-gerror", test_error_reply_foreign);
    g_test_add_func("/message/error/reply-long-message", test_error_reply_long);
    g_test_add_func("/message/error/from-gerror", test_error_from_gerror);
    g_test_add_func("/message/error/to-gerror-rewrites", test_error_to_gerror);
    g_test_add_func("/message/keepalive/ping-pong", test_keepalive);
    g_test_add_func("/message/programs", test_programs);
    g_test_add_func("/message/type-names", test_type_names);
    return g_test_run();
}
