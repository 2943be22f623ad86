/*
 * fuzz-rpc.c: the libvirt RPC wire as a daemon reads it from a client (and
 * a client or a forwarding daemon from its peer), fed damaged input.
 *
 * Seeds: the golden payloads of tests/data/wire (one per described
 * procedure's arguments, return value and message), in hex.
 *
 *  /fuzz/rpc/payload  a mutated payload decoded with the generated decoder
 *                     of its procedure (or of another one), from an
 *                     exactly sized buffer, as daemon_call_execute() does
 *                     with rpc_payload_decode(); a payload that decodes
 *                     must encode, and that encoding must decode and encode
 *                     to the same bytes again.
 *  /fuzz/rpc/stream   whole messages (length word, header, payload), one to
 *                     four back to back, mutated anywhere (lengths, header
 *                     fields, descriptor counts), written in random pieces
 *                     into a socketpair read by RpcConn on a GMainContext;
 *                     every message RpcConn delivers goes through the
 *                     daemon's checks (program, procedure lookup, argument
 *                     decoding) or the client's (reply, error).  The
 *                     connection must end (the peer closes), never hang,
 *                     and unmutated streams must arrive whole.
 */
#define G_LOG_DOMAIN "modvirt.test.fuzz.rpc"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "fuzz-common.h"
#include "rpc-conn.h"
#include "rpc-message.h"
#include "rpc-protocol.h"
#include "util-error.h"

#ifndef MODVIRT_SRCDIR
#define MODVIRT_SRCDIR "."
#endif

typedef enum {
    SEED_ARGS,
    SEED_RET,
    SEED_MSG,
} SeedKind;

typedef struct {
    char *name;
    const RpcProcInfo *info;
    SeedKind kind;
    GByteArray *bytes;
} RpcSeed;

static GPtrArray *seeds;        /* RpcSeed* */
static GPtrArray *seed_bytes;   /* GByteArray*, borrowed, for splicing */

/* ------------------------------------------------------------ seeds */

/* Hex words; '#' comments to the end of the line. */
static GByteArray *
seed_parse_hex(const char *path, const char *text)
{
    GByteArray *out = g_byte_array_new();
    int hi = -1;

    for (const char *p = text; *p; p++) {
        int v;
        guint8 b;

        if (*p == '#') {
            p += strcspn(p, "\n");
            if (!*p)
                break;
            continue;
        }
        if (g_ascii_isspace(*p))
            continue;
        if ((v = g_ascii_xdigit_value(*p)) < 0)
            g_error("%s: '%c' is not a hex digit", path, *p);
        if (hi < 0) {
            hi = v;
            continue;
        }
        b = (guint8)(hi << 4 | v);
        g_byte_array_append(out, &b, 1);
        hi = -1;
    }
    if (hi >= 0)
        g_error("%s: odd number of hex digits", path);
    return out;
}

static void
seed_free(gpointer p)
{
    RpcSeed *s = p;

    g_free(s->name);
    g_byte_array_unref(s->bytes);
    g_free(s);
}

static void
seeds_load(void)
{
    const char *datadir = g_getenv("MODVIRT_TEST_DATADIR");
    g_autofree char *dir = g_build_filename(datadir ? datadir : MODVIRT_SRCDIR "/tests/data",
                                            "wire", NULL);
    static const char *const suffixes[] = { ".args", ".ret", ".msg" };

    seeds = g_ptr_array_new_with_free_func(seed_free);
    seed_bytes = g_ptr_array_new();
    for (SeedKind k = SEED_ARGS; k <= SEED_MSG; k++) {
        g_autoptr(GPtrArray) files = fuzz_list_dir(dir, suffixes[k]);

        for (guint i = 0; i < files->len; i++) {
            const char *path = files->pdata[i];
            g_autofree char *base = g_path_get_basename(path);
            g_auto(GStrv) parts = g_strsplit(base, "-", 3);
            g_autofree char *text = NULL;
            guint32 prog;
            const RpcProcInfo *info;
            RpcSeed *s;

            if (g_strv_length(parts) < 3)
                continue;
            if (g_str_equal(parts[0], "remote"))
                prog = REMOTE_PROGRAM;
            else if (g_str_equal(parts[0], "admin"))
                prog = ADMIN_PROGRAM;
            else if (g_str_equal(parts[0], "qemu"))
                prog = QEMU_PROGRAM;
            else if (g_str_equal(parts[0], "lxc"))
                prog = LXC_PROGRAM;
            else if (g_str_equal(parts[0], "keepalive"))
                prog = KEEPALIVE_PROGRAM;
            else
                continue;
            info = rpc_proc_lookup(prog, (gint32)g_ascii_strtoll(parts[1], NULL, 10));
            /* payloads of procedures not described yet wait for them */
            if (!info || !info->described)
                continue;
            /* a message (event) payload uses the "args" codec */
            if ((k != SEED_RET && !info->dec_args) || (k == SEED_RET && !info->dec_ret))
                continue;
            g_file_get_contents(path, &text, NULL, NULL);
            g_assert_nonnull(text);
            s = g_new0(RpcSeed, 1);
            s->name = g_steal_pointer(&base);
            s->info = info;
            s->kind = k;
            s->bytes = seed_parse_hex(path, text);
            g_ptr_array_add(seeds, s);
            g_ptr_array_add(seed_bytes, s->bytes);
        }
    }
    if (seeds->len < 10)
        g_error("only %u seed payloads in %s", seeds->len, dir);
    g_test_message("%u seed payloads from %s", seeds->len, dir);
}

/* ------------------------------------------------------------ decoding */

static void
codec_of(const RpcSeed *s, RpcDecodeFunc *dec, RpcEncodeFunc *enc, RpcFreeFunc *fr, size_t *size)
{
    if (s->kind != SEED_RET) {
        *dec = s->info->dec_args;
        *enc = s->info->enc_args;
        *fr = s->info->free_args;
        *size = s->info->args_size;
    } else {
        *dec = s->info->dec_ret;
        *enc = s->info->enc_ret;
        *fr = s->info->free_ret;
        *size = s->info->ret_size;
    }
}

/* Encode @v; false if the encoder refused. */
static guint8 *
encode(RpcEncodeFunc enc, const void *v, size_t *ret_len, const char **ret_why)
{
    XdrEncoder x;

    xdr_encoder_init(&x, 64, RPC_MAX_MESSAGE);
    if (!enc(&x, v)) {
        *ret_why = x.error;
        xdr_encoder_clear(&x);
        return NULL;
    }
    return xdr_encoder_steal(&x, ret_len);
}

/*
 * Decode @len bytes at @data with @dec as the daemon does.  On success the
 * value must encode, and the encoding must decode and re-encode to itself
 * (the first encoding may normalise, e.g. a char sent as 200 is -56).
 */
static bool
decode_checked(const char *what, const guint8 *data, size_t len, RpcDecodeFunc dec,
               RpcEncodeFunc enc, RpcFreeFunc fr, size_t size)
{
    /* exactly sized, so that a read past the payload is caught */
    g_autofree guint8 *exact = g_memdup2(data, len);
    g_autofree void *v = g_malloc0(MAX(size, 1));
    g_autofree void *v2 = g_malloc0(MAX(size, 1));
    g_autoptr(GError) error = NULL;
    g_autofree guint8 *once = NULL;
    g_autofree guint8 *twice = NULL;
    size_t once_len = 0, twice_len = 0;
    const char *why = NULL;

    fuzz_set_input(exact, len);
    if (!rpc_payload_decode(exact, len, dec, fr, v, &error)) {
        g_assert_nonnull(error);
        g_assert_cmpint(util_error_code(error), ==, VIR_ERR_RPC);
        g_assert_true(g_str_has_prefix(error->message, "Unable to decode message payload: "));
        return false;
    }
    g_assert_null(error);
    if (!(once = encode(enc, v, &once_len, &why)))
        g_error("%s: decoded, but does not encode again: %s", what, why ? why : "?");
    fr(v);
    if (!rpc_payload_decode(once, once_len, dec, fr, v2, &error))
        g_error("%s: its own encoding does not decode: %s", what, error->message);
    if (!(twice = encode(enc, v2, &twice_len, &why)))
        g_error("%s: second encoding failed: %s", what, why ? why : "?");
    fr(v2);
    if (once_len != twice_len || memcmp(once, twice, once_len) != 0)
        g_error("%s: encoding is not stable (%zu then %zu bytes)", what, once_len, twice_len);
    return true;
}

static void
payload_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    const RpcSeed *s = seeds->pdata[iteration % seeds->len];
    const RpcSeed *codec = s;
    g_autoptr(GByteArray) buf = g_byte_array_new();
    RpcDecodeFunc dec;
    RpcEncodeFunc enc;
    RpcFreeFunc fr;
    size_t size;
    bool ok;

    g_byte_array_append(buf, s->bytes->data, s->bytes->len);
    /* the first pass over the seeds is unmutated: each must decode */
    if (iteration >= seeds->len) {
        /* sometimes another procedure's decoder reads these bytes */
        if (g_rand_int_range(rand, 0, 8) == 0)
            codec = seeds->pdata[g_rand_int_range(rand, 0, (gint32)seeds->len)];
        /* counts and lengths: an aligned word set to an interesting value */
        if (buf->len >= 4 && g_rand_boolean(rand)) {
            guint32 v = fuzz_interesting_u32(rand);
            gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)(buf->len / 4)) * 4;

            /* GUINT32_TO_BE may evaluate its argument more than once */
            v = GUINT32_TO_BE(v);
            memcpy(buf->data + at, &v, 4);
        }
        if (g_rand_int_range(rand, 0, 4) != 0)
            fuzz_mutate(rand, buf, 4, NULL, seed_bytes);
    }
    codec_of(codec, &dec, &enc, &fr, &size);
    ok = decode_checked(codec->name, buf->data, buf->len, dec, enc, fr, size);
    if (iteration < seeds->len && !ok)
        g_error("seed %s does not decode", s->name);
    fuzz_accepted(ok);
}

/* ------------------------------------------------------------ streams */

typedef struct {
    guint messages;
    guint decoded;
    bool closed;
    char *reason;
    GPtrArray *lens;    /* guint sizes delivered, in order */
} StreamState;

/* What the daemon (daemon_client_dispatch + daemon_call_execute) or a
 * client (rpc-client) does with a message's payload. */
static void
stream_dispatch(StreamState *st, const RpcHeader *hdr, const guint8 *msg, size_t len)
{
    const RpcProcInfo *info = rpc_proc_lookup(hdr->prog, hdr->proc);
    const guint8 *payload = msg + RPC_MIN_LEN;
    size_t plen = len - RPC_MIN_LEN;

    g_assert_cmpuint(len, >=, RPC_MIN_LEN);
    g_assert_cmpuint(rpc_read_u32(msg), ==, len);
    /* a name for every type the log might print */
    g_assert_nonnull(rpc_type_name(hdr->type));
    if (!rpc_program_known(hdr->prog, hdr->vers) || !info || !info->described)
        return;
    if (hdr->type == RPC_TYPE_CALL && !info->is_message && info->dec_args) {
        if (decode_checked(info->name, payload, plen, info->dec_args, info->enc_args,
                           info->free_args, info->args_size))
            st->decoded++;
    } else if (hdr->type == RPC_TYPE_MESSAGE && info->is_message && info->dec_args) {
        /* an event, as libmodvirt's event loop reads it */
        if (decode_checked(info->name, payload, plen, info->dec_args, info->enc_args,
                           info->free_args, info->args_size))
            st->decoded++;
    } else if (hdr->type == RPC_TYPE_REPLY && hdr->status == RPC_STATUS_OK && info->dec_ret) {
        if (decode_checked(info->name, payload, plen, info->dec_ret, info->enc_ret,
                           info->free_ret, info->ret_size))
            st->decoded++;
    } else if (hdr->type == RPC_TYPE_REPLY && hdr->status == RPC_STATUS_ERROR) {
        RemoteError err = { 0 };
        g_autoptr(GError) error = NULL;

        if (decode_checked("remote_error", payload, plen,
                           (RpcDecodeFunc)xdr_dec_remote_error,
                           (RpcEncodeFunc)xdr_enc_remote_error,
                           (RpcFreeFunc)xdr_free_remote_error, sizeof(RemoteError))) {
            g_autoptr(GError) back = NULL;

            /* the client turns it into a GError with a message */
            g_assert_true(rpc_payload_decode(payload, plen,
                                             (RpcDecodeFunc)xdr_dec_remote_error,
                                             (RpcFreeFunc)xdr_free_remote_error, &err, &error));
            back = rpc_error_to_gerror(&err);
            g_assert_nonnull(back->message);
            xdr_free_remote_error(&err);
            st->decoded++;
        }
    }
}

static void
stream_message_cb(RpcConn *conn, const RpcHeader *hdr, guint8 *msg, size_t len,
                  gpointer user_data)
{
    StreamState *st = user_data;
    /* RpcConn hands over a buffer of exactly @len bytes */
    g_autofree guint8 *owned = msg;

    st->messages++;
    g_ptr_array_add(st->lens, GUINT_TO_POINTER((guint)len));
    stream_dispatch(st, hdr, owned, len);
}

static void
stream_closed_cb(RpcConn *conn, const char *reason, gpointer user_data)
{
    StreamState *st = user_data;

    g_assert_false(st->closed);
    st->closed = true;
    st->reason = g_strdup(reason);
}

static const RpcConnCallbacks stream_callbacks = {
    .message = stream_message_cb,
    .closed = stream_closed_cb,
};

/* One message of @s's procedure, as a peer would send it. */
static void
stream_append_message(GRand *rand, GByteArray *out, const RpcSeed *s, bool mutate)
{
    g_autoptr(GByteArray) payload = g_byte_array_new();
    RpcHeader hdr = {
        .prog = s->info->prog,
        .vers = 1,
        .proc = s->info->proc,
        .type = s->kind == SEED_ARGS ? RPC_TYPE_CALL :
                s->kind == SEED_RET ? RPC_TYPE_REPLY : RPC_TYPE_MESSAGE,
        .serial = g_rand_int(rand),
        .status = RPC_STATUS_OK,
    };
    guint8 head[RPC_MIN_LEN];

    g_byte_array_append(payload, s->bytes->data, s->bytes->len);
    if (mutate && g_rand_boolean(rand))
        fuzz_mutate(rand, payload, 3, NULL, seed_bytes);
    if (mutate && g_rand_int_range(rand, 0, 6) == 0) {
        /* a well-formed error reply instead */
        RemoteError err = { .code = VIR_ERR_RPC, .domain = VIR_FROM_RPC, .level = 2,
                            .message = (char *)"unknown procedure: 999" };
        XdrEncoder x;
        size_t n = 0;
        g_autofree guint8 *b = NULL;

        xdr_encoder_init(&x, 64, 0);
        g_assert_true(xdr_enc_remote_error(&x, &err));
        b = xdr_encoder_steal(&x, &n);
        g_byte_array_set_size(payload, 0);
        g_byte_array_append(payload, b, (guint)n);
        hdr.type = RPC_TYPE_REPLY;
        hdr.status = RPC_STATUS_ERROR;
    }
    rpc_write_u32(head, (guint32)(RPC_MIN_LEN + payload->len));
    rpc_header_encode(&hdr, head);
    if (mutate && g_rand_int_range(rand, 0, 3) == 0) {
        /* one header word (length, prog, vers, proc, type, serial, status) */
        guint word = (guint)g_rand_int_range(rand, 0, RPC_MIN_LEN / 4);
        guint32 v = fuzz_interesting_u32(rand);

        if (word == 4 && g_rand_boolean(rand)) /* type: a known one */
            v = (guint32)g_rand_int_range(rand, 0, RPC_TYPE_LAST + 1);
        rpc_write_u32(head + word * 4, v);
    }
    g_byte_array_append(out, head, sizeof(head));
    g_byte_array_append(out, payload->data, payload->len);
}

/* Write @data into @fd in random pieces, iterating @ctx in between so the
 * reader keeps draining; then close our end. */
static void
stream_feed(GRand *rand, GMainContext *ctx, int fd, const guint8 *data, size_t len,
            StreamState *st)
{
    size_t off = 0;
    guint stalls = 0;

    while (off < len && !st->closed) {
        size_t piece = (size_t)g_rand_int_range(rand, 1, 8193);
        ssize_t n;

        piece = MIN(piece, len - off);
        n = write(fd, data + off, piece);

        if (n > 0) {
            off += (size_t)n;
            stalls = 0;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
            break; /* the reader closed: EPIPE */
        } else if (++stalls > 10000) {
            g_error("the reader stopped reading (%zu of %zu bytes written)", off, len);
        }
        while (g_main_context_iteration(ctx, FALSE))
            ;
    }
    shutdown(fd, SHUT_WR);
    for (guint i = 0; !st->closed && i < 100000; i++)
        g_main_context_iteration(ctx, i > 100);
    if (!st->closed)
        g_error("the connection did not end after the peer closed");
}

static void
stream_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    g_autoptr(GMainContext) ctx = g_main_context_new();
    g_autoptr(GByteArray) stream = g_byte_array_new();
    g_autoptr(GPtrArray) expect = g_ptr_array_new();
    StreamState st = { 0 };
    bool mutate = iteration % 8 != 0;   /* every 8th stream is intact */
    guint count = (guint)g_rand_int_range(rand, 1, 5);
    int sv[2];
    RpcConn *conn;

    for (guint i = 0; i < count; i++) {
        guint before = stream->len;
        const RpcSeed *s = seeds->pdata[g_rand_int_range(rand, 0, (gint32)seeds->len)];

        stream_append_message(rand, stream, s, mutate);
        g_ptr_array_add(expect, GUINT_TO_POINTER(stream->len - before));
    }
    if (mutate && g_rand_int_range(rand, 0, 4) == 0)
        fuzz_mutate(rand, stream, 3, NULL, seed_bytes);

    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), ==, 0);
    st.lens = g_ptr_array_new();
    conn = rpc_conn_new(sv[0], ctx, RPC_MAX_MESSAGE, &stream_callbacks, &st);
    fuzz_set_input(stream->data, stream->len);
    stream_feed(rand, ctx, sv[1], stream->data, stream->len, &st);
    close(sv[1]);

    if (!mutate) {
        /* an intact stream arrives whole, message by message */
        g_assert_cmpuint(st.messages, ==, count);
        for (guint i = 0; i < count; i++)
            g_assert_cmpuint(GPOINTER_TO_UINT(st.lens->pdata[i]), ==,
                             GPOINTER_TO_UINT(expect->pdata[i]));
        g_assert_cmpstr(st.reason, ==, "peer closed the connection");
    }
    fuzz_accepted(st.decoded > 0);
    rpc_conn_close(conn);
    rpc_conn_unref(conn);
    while (g_main_context_iteration(ctx, FALSE))
        ;
    g_free(st.reason);
    g_ptr_array_unref(st.lens);
}

int
main(int argc, char **argv)
{
    int rc;

    fuzz_init(&argc, &argv);
    seeds_load();
    fuzz_add("/fuzz/rpc/payload", seeds->len * 6000, payload_iter, NULL);
    fuzz_add("/fuzz/rpc/stream", 60000, stream_iter, NULL);
    rc = g_test_run();
    g_ptr_array_unref(seed_bytes);
    g_ptr_array_unref(seeds);
    return rc;
}
