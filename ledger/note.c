/*
 * ledger/note.c - Ed25519 keys in Go's sumdb/note encoding, C2SP signed notes and tlog
 * checkpoints.
 *
 * Every parser here reads untrusted bytes: lengths come from the caller, strings need not be
 * NUL-terminated, and nothing is read past `len`. Malformed key strings are EKEY, malformed
 * notes and checkpoints EFORMAT, signature failures EVERIFY.
 */
#include "auditfs/note.h"
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ALG_ED25519 0x01
#define PK_BYTES crypto_sign_PUBLICKEYBYTES    /* 32 */
#define SEED_BYTES crypto_sign_SEEDBYTES       /* 32 */
#define SK_BYTES crypto_sign_SECRETKEYBYTES    /* 64 */
#define SIG_BYTES crypto_sign_BYTES            /* 64 */
#define KEY_RAW_BYTES (1 + PK_BYTES)           /* algorithm byte || key, as in the key strings */
#define KEY_B64_LEN AFS_B64_LEN(KEY_RAW_BYTES) /* 44 */
#define SIGLINE_RAW_BYTES (4 + SIG_BYTES)      /* key id || Ed25519 signature */
#define SIGLINE_B64_LEN AFS_B64_LEN(SIGLINE_RAW_BYTES) /* 92 */
#define SKEY_PREFIX "PRIVATE+KEY+"
#define SKEY_PREFIX_LEN (sizeof SKEY_PREFIX - 1)
/* A key file holds one key string and a newline; anything larger is not a key. */
#define KEY_FILE_MAX 1024
/* "— " : U+2014 EM DASH then a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN (sizeof sig_prefix - 1)

_Static_assert(AUDITFS_SKEY_BYTES >= SKEY_PREFIX_LEN + AUDITFS_NAME_MAX + 10 + KEY_B64_LEN + 1,
               "AUDITFS_SKEY_BYTES too small");

struct auditfs_verifier {
    char name[AUDITFS_NAME_MAX + 1]; /* valid key name, NUL-terminated */
    size_t name_len;
    uint32_t key_id; /* always key_hash(name, pk) */
    uint8_t pk[PK_BYTES];
};

/* Layout of the sodium_malloc'd secret: the algorithm byte and seed as they appear in the key
 * string (so the string decodes straight into locked memory), then libsodium's expanded key. */
#define SECRET_SEED_OFF 1
#define SECRET_SK_OFF (1 + SEED_BYTES)
#define SECRET_BYTES (1 + SEED_BYTES + SK_BYTES)

struct auditfs_signer {
    char name[AUDITFS_NAME_MAX + 1];
    size_t name_len;
    uint32_t key_id;
    uint8_t pk[PK_BYTES];
    uint8_t *secret; /* SECRET_BYTES of sodium_malloc memory, read-only once filled */
};

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;
static int sodium_status = -1;

static void
sodium_setup(void)
{
    sodium_status = sodium_init() < 0 ? -1 : 0;
}

static int
sodium_ready(void)
{
    pthread_once(&sodium_once, sodium_setup);
    if (sodium_status != 0)
        return afs_error_set(AUDITFS_ERROR, "libsodium failed to initialise");
    return 0;
}

/* Decodes one code point of already-validated UTF-8 at s[*i] and advances *i. */
static uint32_t
utf8_next(const uint8_t *s, size_t *i)
{
    uint8_t c = s[*i];
    size_t need = c < 0x80 ? 0 : c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
    uint32_t cp = need == 0 ? c : need == 1 ? (c & 0x1fu) : need == 2 ? (c & 0x0fu) : (c & 0x07u);
    for (size_t k = 1; k <= need; k++)
        cp = (cp << 6) | (s[*i + k] & 0x3fu);
    *i += need + 1;
    return cp;
}

/* Unicode White_Space (what Go's unicode.IsSpace reports) plus the C1 controls. */
static bool
cp_forbidden_in_name(uint32_t cp)
{
    return cp == ' ' || cp == '+' || (cp >= 0x80 && cp <= 0xa0) || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

/* A key name: 1..AUDITFS_NAME_MAX bytes of UTF-8, no spaces, '+' or control characters. */
static bool
name_valid(const char *s, size_t n)
{
    const uint8_t *u = (const uint8_t *)s;
    if (n == 0 || n > AUDITFS_NAME_MAX || !afs_utf8_valid(u, n, false))
        return false;
    for (size_t i = 0; i < n;) {
        if (cp_forbidden_in_name(utf8_next(u, &i)))
            return false;
    }
    return true;
}

/* A checkpoint origin: 1..AUDITFS_NAME_MAX bytes of UTF-8 without control characters. Spaces
 * are allowed because real logs use them (sum.golang.org's origin is "go.sum database tree"). */
static bool
origin_valid(const char *s, size_t n)
{
    return n > 0 && n <= AUDITFS_NAME_MAX && afs_utf8_valid((const uint8_t *)s, n, false);
}

static uint32_t
key_hash(const char *name, size_t name_len, const uint8_t pk[PK_BYTES])
{
    static const uint8_t sep[2] = {'\n', ALG_ED25519};
    uint8_t digest[32];
    afs_sha256_ctx c;
    afs_sha256_init(&c);
    afs_sha256_update(&c, name, name_len);
    afs_sha256_update(&c, sep, sizeof sep);
    afs_sha256_update(&c, pk, PK_BYTES);
    afs_sha256_final(&c, digest);
    return afs_load_be32(digest);
}

/* Exactly 8 lowercase hex digits (the form Go writes); uppercase would not round-trip. */
static bool
parse_hex8(uint32_t *out, const char *s, size_t n)
{
    uint32_t v = 0;
    if (n != 8)
        return false;
    for (size_t i = 0; i < 8; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else
            return false;
        v = (v << 4) | d;
    }
    *out = v;
    return true;
}

/* The fields of "<name>+<hex id>+<base64>": split on the first two '+' only, since the base64
 * alphabet contains '+'. */
struct key_fields {
    const char *name;
    size_t name_len;
    uint32_t id;
    const char *b64;
    size_t b64_len;
};

static int
split_key(struct key_fields *f, const char *s, size_t n, const char *what)
{
    const char *p1 = n ? memchr(s, '+', n) : NULL;
    if (!p1)
        return afs_error_set(AUDITFS_EKEY, "%s: expected <name>+<key id>+<base64 key>", what);
    const char *rest = p1 + 1;
    size_t rest_len = n - (size_t)(rest - s);
    const char *p2 = memchr(rest, '+', rest_len);
    if (!p2)
        return afs_error_set(AUDITFS_EKEY, "%s: expected <name>+<key id>+<base64 key>", what);
    f->name = s;
    f->name_len = (size_t)(p1 - s);
    if (!name_valid(f->name, f->name_len))
        return afs_error_set(AUDITFS_EKEY,
                             "%s: invalid key name (must be 1-%d bytes of UTF-8 without spaces, "
                             "'+' or control characters)",
                             what, AUDITFS_NAME_MAX);
    if (!parse_hex8(&f->id, rest, (size_t)(p2 - rest)))
        return afs_error_set(AUDITFS_EKEY, "%s: key id is not 8 lowercase hex digits", what);
    f->b64 = p2 + 1;
    f->b64_len = n - (size_t)(f->b64 - s);
    return 0;
}

/* Drops one trailing "\n" (key strings may come straight from a file). */
static size_t
strip_newline(const char *s, size_t n)
{
    return n > 0 && s[n - 1] == '\n' ? n - 1 : n;
}

/* ---- verifiers ---- */

int
auditfs_verifier_parse(auditfs_verifier **out, const char *vkey, size_t len)
{
    static const char what[] = "verifier key";
    struct key_fields f;
    uint8_t raw[KEY_RAW_BYTES];
    int err;
    if (!out || (!vkey && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_verifier_parse: NULL argument");
    *out = NULL;
    len = strip_newline(vkey, len);
    /* The commonest mistake is the signer key file where its .pub belongs: say so (never
     * quoting the secret) rather than failing on the key id field. */
    if (len >= SKEY_PREFIX_LEN && memcmp(vkey, SKEY_PREFIX, SKEY_PREFIX_LEN) == 0)
        return afs_error_set(AUDITFS_EKEY, "this is a signer (private) key, not a verifier key: "
                             "give the verifier key (the .pub file keygen wrote beside it)");
    if ((err = split_key(&f, vkey, len, what)) != 0)
        return err;
    if (afs_b64_decode(raw, sizeof raw, f.b64, f.b64_len) != (long)sizeof raw)
        return afs_error_set(AUDITFS_EKEY, "%s %.*s: key is not base64 of %d bytes", what,
                             (int)f.name_len, f.name, KEY_RAW_BYTES);
    if (raw[0] != ALG_ED25519)
        return afs_error_set(AUDITFS_EKEY, "%s %.*s: unknown algorithm 0x%02x (want 0x01 Ed25519)",
                             what, (int)f.name_len, f.name, raw[0]);
    uint32_t want = key_hash(f.name, f.name_len, raw + 1);
    if (want != f.id)
        return afs_error_set(AUDITFS_EKEY, "%s %.*s: key id %08x does not match the key (%08x)",
                             what, (int)f.name_len, f.name, f.id, want);
    auditfs_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    memcpy(v->name, f.name, f.name_len);
    v->name_len = f.name_len;
    v->key_id = f.id;
    memcpy(v->pk, raw + 1, PK_BYTES);
    *out = v;
    return 0;
}

int
auditfs_verifier_load(auditfs_verifier **out, const char *path)
{
    char *data = NULL;
    size_t len = 0;
    int err;
    if (!out || !path)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_verifier_load: NULL argument");
    *out = NULL;
    if ((err = afs_read_file(&data, &len, path, KEY_FILE_MAX)) != 0)
        return err;
    if ((err = auditfs_verifier_parse(out, data, len)) != 0)
        afs_error_wrap(err, "%s", path);
    free(data);
    return err;
}

int
auditfs_verifier_format(char **out, const auditfs_verifier *v)
{
    char b64[KEY_B64_LEN + 1];
    uint8_t raw[KEY_RAW_BYTES];
    if (!out || !v)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_verifier_format: NULL argument");
    *out = NULL;
    raw[0] = ALG_ED25519;
    memcpy(raw + 1, v->pk, PK_BYTES);
    afs_b64_encode(b64, raw, sizeof raw);
    size_t cap = v->name_len + 1 + 8 + 1 + KEY_B64_LEN + 1;
    char *s = malloc(cap);
    if (!s)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    snprintf(s, cap, "%s+%08x+%s", v->name, v->key_id, b64);
    *out = s;
    return 0;
}

const char *
auditfs_verifier_name(const auditfs_verifier *v)
{
    return v ? v->name : NULL;
}

uint32_t
auditfs_verifier_key_id(const auditfs_verifier *v)
{
    return v ? v->key_id : 0;
}

const uint8_t *
auditfs_verifier_public_key(const auditfs_verifier *v)
{
    return v ? v->pk : NULL;
}

int
auditfs_verifier_equal(const auditfs_verifier *a, const auditfs_verifier *b)
{
    if (!a || !b)
        return 0;
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0 &&
           sodium_memcmp(a->pk, b->pk, PK_BYTES) == 0;
}

void
auditfs_verifier_free(auditfs_verifier *v)
{
    free(v);
}

/* ---- signers ---- */

/* Takes ownership of `secret` (whose seed must be filled in) and completes the signer: expands
 * the key, computes the key id and seals the secret read-only. Frees `secret` on failure. */
static int
signer_finish(auditfs_signer **out, const char *name, size_t name_len, uint8_t *secret)
{
    auditfs_signer *s = calloc(1, sizeof *s);
    if (!s) {
        sodium_free(secret);
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    }
    secret[0] = ALG_ED25519;
    if (crypto_sign_seed_keypair(s->pk, secret + SECRET_SK_OFF, secret + SECRET_SEED_OFF) != 0) {
        sodium_free(secret);
        free(s);
        return afs_error_set(AUDITFS_ERROR, "Ed25519 key expansion failed");
    }
    sodium_mprotect_readonly(secret);
    memcpy(s->name, name, name_len);
    s->name_len = name_len;
    s->key_id = key_hash(name, name_len, s->pk);
    s->secret = secret;
    *out = s;
    return 0;
}

int
auditfs_signer_generate(auditfs_signer **out, const char *name)
{
    int err;
    if (!out || !name)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_generate: NULL argument");
    *out = NULL;
    size_t name_len = strnlen(name, AUDITFS_NAME_MAX + 1);
    if (!name_valid(name, name_len))
        return afs_error_set(AUDITFS_EINVAL,
                             "invalid key name (must be 1-%d bytes of UTF-8 without spaces, '+' "
                             "or control characters)",
                             AUDITFS_NAME_MAX);
    if ((err = sodium_ready()) != 0)
        return err;
    uint8_t *secret = sodium_malloc(SECRET_BYTES);
    if (!secret)
        return afs_error_set(AUDITFS_ENOMEM, "out of locked memory for a secret key");
    randombytes_buf(secret + SECRET_SEED_OFF, SEED_BYTES);
    return signer_finish(out, name, name_len, secret);
}

int
auditfs_signer_parse(auditfs_signer **out, const char *skey, size_t len)
{
    /* Messages never quote the key string: it is secret. */
    static const char what[] = "signer key";
    struct key_fields f;
    int err;
    if (!out || (!skey && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_parse: NULL argument");
    *out = NULL;
    if ((err = sodium_ready()) != 0)
        return err;
    len = strip_newline(skey, len);
    if (len < SKEY_PREFIX_LEN || memcmp(skey, SKEY_PREFIX, SKEY_PREFIX_LEN) != 0) {
        auditfs_verifier *v = NULL;
        if (auditfs_verifier_parse(&v, skey, len) == 0) {
            auditfs_verifier_free(v);
            return afs_error_set(AUDITFS_EKEY, "this is a verifier (public) key, not a signer key: "
                                 "give the signer key file (the one without .pub)");
        }
        return afs_error_set(AUDITFS_EKEY, "%s: does not start with \"" SKEY_PREFIX "\"", what);
    }
    if ((err = split_key(&f, skey + SKEY_PREFIX_LEN, len - SKEY_PREFIX_LEN, what)) != 0)
        return err;
    uint8_t *secret = sodium_malloc(SECRET_BYTES);
    if (!secret)
        return afs_error_set(AUDITFS_ENOMEM, "out of locked memory for a secret key");
    if (afs_b64_decode(secret, 1 + SEED_BYTES, f.b64, f.b64_len) != 1 + SEED_BYTES) {
        sodium_free(secret);
        return afs_error_set(AUDITFS_EKEY, "%s %.*s: key is not base64 of %d bytes", what,
                             (int)f.name_len, f.name, 1 + SEED_BYTES);
    }
    if (secret[0] != ALG_ED25519) {
        uint8_t alg = secret[0];
        sodium_free(secret);
        return afs_error_set(AUDITFS_EKEY, "%s %.*s: unknown algorithm 0x%02x (want 0x01 Ed25519)",
                             what, (int)f.name_len, f.name, alg);
    }
    auditfs_signer *s = NULL;
    if ((err = signer_finish(&s, f.name, f.name_len, secret)) != 0)
        return err;
    if (s->key_id != f.id) {
        err = afs_error_set(AUDITFS_EKEY, "%s %.*s: key id %08x does not match the key (%08x)",
                            what, (int)f.name_len, f.name, f.id, s->key_id);
        auditfs_signer_free(s);
        return err;
    }
    *out = s;
    return 0;
}

int
auditfs_signer_load(auditfs_signer **out, const char *path)
{
    struct stat st;
    uint8_t *buf = NULL;
    size_t len = 0;
    int err = 0;
    if (!out || !path)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_load: NULL argument");
    *out = NULL;
    if ((err = sodium_ready()) != 0)
        return err;
    /* O_NONBLOCK: a FIFO must be refused below, not block the open. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return afs_error_set(errno == ENOENT ? AUDITFS_ENOTFOUND : AUDITFS_EIO, "%s: %s", path,
                             strerror(errno));
    /* The checks use the opened file, so a rename between check and read changes nothing. */
    if (fstat(fd, &st) != 0) {
        err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        err = afs_error_set(AUDITFS_EKEY, "%s: not a regular file", path);
        goto cleanup;
    }
    if (st.st_mode & 077) {
        /* A world-readable verifier key given as the signer: name that mistake, not the mode. */
        char head[KEY_FILE_MAX];
        auditfs_verifier *v = NULL;
        ssize_t hn = pread(fd, head, SKEY_PREFIX_LEN, 0);
        if (hn == (ssize_t)SKEY_PREFIX_LEN && memcmp(head, SKEY_PREFIX, SKEY_PREFIX_LEN) != 0 &&
            (hn = pread(fd, head, sizeof head, 0)) > 0 &&
            auditfs_verifier_parse(&v, head, (size_t)hn) == 0) {
            auditfs_verifier_free(v);
            err = afs_error_set(AUDITFS_EKEY, "%s: a verifier (public) key, not a signer key: "
                                "give the signer key file (the one without .pub)", path);
            goto cleanup;
        }
        err = afs_error_set(AUDITFS_EKEY, "%s: mode %04o is %s by group or others; chmod 600 it",
                            path, (unsigned)(st.st_mode & 07777),
                            (st.st_mode & 044) ? "readable" : "accessible");
        goto cleanup;
    }
    if ((buf = sodium_malloc(KEY_FILE_MAX)) == NULL) {
        err = afs_error_set(AUDITFS_ENOMEM, "out of locked memory for a secret key");
        goto cleanup;
    }
    for (;;) {
        if (len == KEY_FILE_MAX) {
            err = afs_error_set(AUDITFS_EKEY, "%s: larger than %d bytes, not a key file", path,
                                KEY_FILE_MAX);
            goto cleanup;
        }
        ssize_t n = read(fd, buf + len, KEY_FILE_MAX - len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if ((err = auditfs_signer_parse(out, (const char *)buf, len)) != 0)
        afs_error_wrap(err, "%s", path);
cleanup:
    sodium_free(buf); /* wipes before unmapping; accepts NULL */
    close(fd);
    return err;
}

int
auditfs_signer_format(char *out, size_t cap, const auditfs_signer *s)
{
    char b64[KEY_B64_LEN + 1];
    if (!out || !s)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_format: NULL argument");
    size_t need = SKEY_PREFIX_LEN + s->name_len + 1 + 8 + 1 + KEY_B64_LEN + 1;
    if (cap < need)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_format: buffer of %zu bytes < %zu",
                             cap, need);
    afs_b64_encode(b64, s->secret, 1 + SEED_BYTES);
    snprintf(out, cap, SKEY_PREFIX "%s+%08x+%s", s->name, s->key_id, b64);
    sodium_memzero(b64, sizeof b64);
    return 0;
}

int
auditfs_signer_save(const auditfs_signer *s, const char *path)
{
    char *text = NULL;
    int fd = -1;
    int err = 0;
    bool created = false;
    if (!s || !path)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_save: NULL argument");
    if ((text = sodium_malloc(AUDITFS_SKEY_BYTES + 1)) == NULL)
        return afs_error_set(AUDITFS_ENOMEM, "out of locked memory for a secret key");
    if ((err = auditfs_signer_format(text, AUDITFS_SKEY_BYTES, s)) != 0)
        goto cleanup;
    size_t len = strlen(text);
    text[len++] = '\n';
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = afs_error_set(errno == EEXIST ? AUDITFS_EEXISTS : AUDITFS_EIO, "%s: %s", path,
                            errno == EEXIST ? "exists; refusing to overwrite a key"
                                            : strerror(errno));
        goto cleanup;
    }
    created = true;
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = afs_error_set(AUDITFS_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        err = afs_error_set(AUDITFS_EIO, "fsync %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (close(fd) != 0) {
        fd = -1;
        err = afs_error_set(AUDITFS_EIO, "close %s: %s", path, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    err = afs_fsync_dir(path);
cleanup:
    if (fd >= 0)
        close(fd);
    if (err && created)
        unlink(path); /* never leave a truncated key behind */
    sodium_free(text);
    return err;
}

const char *
auditfs_signer_name(const auditfs_signer *s)
{
    return s ? s->name : NULL;
}

uint32_t
auditfs_signer_key_id(const auditfs_signer *s)
{
    return s ? s->key_id : 0;
}

int
auditfs_signer_verifier(auditfs_verifier **out, const auditfs_signer *s)
{
    if (!out || !s)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_verifier: NULL argument");
    auditfs_verifier *v = calloc(1, sizeof *v);
    if (!v)
        return afs_error_set(AUDITFS_ENOMEM, "out of memory");
    memcpy(v->name, s->name, s->name_len + 1);
    v->name_len = s->name_len;
    v->key_id = s->key_id;
    memcpy(v->pk, s->pk, PK_BYTES);
    assert(v->key_id == key_hash(v->name, v->name_len, v->pk)); /* the struct's invariant */
    *out = v;
    return 0;
}

int
auditfs_signer_sign(uint8_t sig[64], const auditfs_signer *s, const void *msg, size_t len)
{
    if (!sig || !s || (!msg && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_signer_sign: NULL argument");
    if (crypto_sign_detached(sig, NULL, msg, len, s->secret + SECRET_SK_OFF) != 0)
        return afs_error_set(AUDITFS_ERROR, "Ed25519 signing failed");
    return 0;
}

void
auditfs_signer_free(auditfs_signer *s)
{
    if (!s)
        return;
    sodium_free(s->secret); /* makes the pages writable, wipes, unlocks and unmaps */
    sodium_memzero(s, sizeof *s);
    free(s);
}

/* ---- notes ---- */

/*
 * Checks that p[0..n) (which ends in '\n') is lines of UTF-8 without control characters.
 * Returns 0, or the 1-based number of the first bad line counting from first_line.
 */
static size_t
bad_line(const char *p, size_t n, size_t first_line)
{
    size_t line = first_line;
    for (size_t i = 0; i < n; line++) {
        const char *nl = memchr(p + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - p) : n;
        if (!afs_utf8_valid((const uint8_t *)p + i, end - i, false))
            return line;
        i = end + 1;
    }
    return 0;
}

/* Strictly decodes base64 of any length, keeping the first `cap` bytes in out and the decoded
 * length in *total, in fixed memory however long the input is. */
static bool
b64_decode_prefix(uint8_t *out, size_t cap, size_t *total, const char *in, size_t len)
{
    size_t got = 0;
    if (len == 0 || len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i += 4) {
        uint8_t tmp[3];
        bool last = i + 4 == len;
        if (!last && memchr(in + i, '=', 4))
            return false; /* padding only at the very end */
        long n = afs_b64_decode(tmp, sizeof tmp, in + i, 4);
        if (n < 0)
            return false;
        for (long k = 0; k < n; k++, got++) {
            if (got < cap)
                out[got] = tmp[k];
        }
    }
    *total = got;
    return true;
}

int
auditfs_note_sign(char **out, size_t *out_len, const char *text, size_t len,
                  const auditfs_signer *s)
{
    uint8_t raw[SIGLINE_RAW_BYTES];
    char b64[SIGLINE_B64_LEN + 1];
    afs_buf b = AFS_BUF_INIT;
    size_t line;
    int err;
    if (!out || !s || (!text && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_note_sign: NULL argument");
    *out = NULL;
    if (len == 0 || text[len - 1] != '\n')
        return afs_error_set(AUDITFS_EFORMAT, "note text does not end in a newline");
    if (len > AUDITFS_NOTE_MAX_BYTES - (SIG_PREFIX_LEN + AUDITFS_NAME_MAX + 3 + SIGLINE_B64_LEN))
        return afs_error_set(AUDITFS_ETOOBIG, "note text of %zu bytes is too large to sign", len);
    if ((line = bad_line(text, len, 1)) != 0)
        return afs_error_set(AUDITFS_EFORMAT,
                             "note text line %zu: invalid UTF-8 or a control character", line);
    afs_store_be32(raw, s->key_id);
    if ((err = auditfs_signer_sign(raw + 4, s, text, len)) != 0)
        return err;
    afs_b64_encode(b64, raw, sizeof raw);
    if ((err = afs_buf_put(&b, text, len)) != 0 || (err = afs_buf_puts(&b, "\n")) != 0 ||
        (err = afs_buf_put(&b, sig_prefix, SIG_PREFIX_LEN)) != 0 ||
        (err = afs_buf_printf(&b, "%s %s\n", s->name, b64)) != 0) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, out_len);
    return 0;
}

/*
 * Long because it is the signed-note grammar in one pass (C2SP signed-note): size, text lines,
 * the blank line, then each signature line; the checks depend on the split found above them.
 */
int
auditfs_note_verify(size_t *text_len, const char *note, size_t len, const auditfs_verifier *v)
{
    size_t line;
    bool found = false;
    size_t bad_sig_line = 0;
    unsigned nsigs = 0;
    int err;
    if (!v || (!note && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_note_verify: NULL argument");
    if ((err = sodium_ready()) != 0)
        return err;
    if (len > AUDITFS_NOTE_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "note of %zu bytes exceeds the limit of %d", len,
                             AUDITFS_NOTE_MAX_BYTES);
    if (len == 0 || note[len - 1] != '\n')
        return afs_error_set(AUDITFS_EFORMAT, "note does not end in a newline");
    if ((line = bad_line(note, len, 1)) != 0)
        return afs_error_set(AUDITFS_EFORMAT, "note line %zu: invalid UTF-8 or a control character",
                             line);
    /* The text ends at the last blank line; the signature block is everything after it. */
    size_t split = len; /* index of the first '\n' of the last "\n\n" */
    for (size_t i = len - 1; i > 0; i--) {
        if (note[i] == '\n' && note[i - 1] == '\n') {
            split = i - 1;
            break;
        }
    }
    if (split == len)
        return afs_error_set(AUDITFS_EFORMAT, "note has no blank line before its signatures");
    size_t tlen = split + 1;
    size_t pos = split + 2;
    if (pos == len)
        return afs_error_set(AUDITFS_EFORMAT, "note has no signature lines after its blank line");
    line = 2;
    for (size_t i = 0; i < tlen; i++)
        line += note[i] == '\n';

    for (; pos < len; line++) {
        /* Every line in the block ends in '\n': the note does, and there are no blank lines. */
        const char *l = note + pos;
        const char *nl = memchr(l, '\n', len - pos);
        size_t n = (size_t)(nl - l);
        pos += n + 1;
        if (++nsigs > AUDITFS_NOTE_MAX_SIGS)
            return afs_error_set(AUDITFS_EFORMAT, "note line %zu: more than %d signatures", line,
                                 AUDITFS_NOTE_MAX_SIGS);
        if (n < SIG_PREFIX_LEN || memcmp(l, sig_prefix, SIG_PREFIX_LEN) != 0)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "note line %zu: signature line does not start with \"— \"", line);
        const char *name = l + SIG_PREFIX_LEN;
        size_t rest = n - SIG_PREFIX_LEN;
        const char *sp = memchr(name, ' ', rest);
        if (!sp)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "note line %zu: expected \"— <name> <base64 signature>\"", line);
        size_t name_len = (size_t)(sp - name);
        if (!name_valid(name, name_len))
            return afs_error_set(AUDITFS_EFORMAT, "note line %zu: invalid key name", line);
        uint8_t raw[SIGLINE_RAW_BYTES];
        size_t raw_len = 0;
        if (!b64_decode_prefix(raw, sizeof raw, &raw_len, sp + 1, rest - name_len - 1))
            return afs_error_set(AUDITFS_EFORMAT,
                                 "note line %zu: signature is not canonical base64", line);
        if (raw_len < 5)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "note line %zu: signature of %zu bytes is too short", line,
                                 raw_len);
        if (name_len != v->name_len || memcmp(name, v->name, name_len) != 0 ||
            afs_load_be32(raw) != v->key_id)
            continue; /* another key's signature: ignored, as the spec requires */
        /* Every line by our key must verify, not just the first. */
        if (raw_len != SIGLINE_RAW_BYTES ||
            crypto_sign_verify_detached(raw + 4, (const uint8_t *)note, tlen, v->pk) != 0) {
            if (!bad_sig_line)
                bad_sig_line = line;
        } else {
            found = true;
        }
    }
    if (bad_sig_line)
        return afs_error_set(AUDITFS_EVERIFY, "note line %zu: invalid signature by %s+%08x",
                             bad_sig_line, v->name, v->key_id);
    if (!found)
        return afs_error_set(AUDITFS_EVERIFY, "note has no signature by %s+%08x", v->name,
                             v->key_id);
    if (text_len)
        *text_len = tlen;
    return 0;
}

/* ---- checkpoints ---- */

int
auditfs_checkpoint_format(char **out, size_t *out_len, const auditfs_checkpoint *c)
{
    char root[AFS_B64_LEN(AUDITFS_HASH_BYTES) + 1];
    afs_buf b = AFS_BUF_INIT;
    int err;
    if (!out || !c)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_checkpoint_format: NULL argument");
    *out = NULL;
    size_t olen = strnlen(c->origin, sizeof c->origin);
    if (olen == sizeof c->origin || !origin_valid(c->origin, olen))
        return afs_error_set(AUDITFS_EINVAL,
                             "checkpoint origin must be 1-%d bytes of UTF-8 without control "
                             "characters",
                             AUDITFS_NAME_MAX);
    afs_b64_encode(root, c->root.b, AUDITFS_HASH_BYTES);
    if ((err = afs_buf_printf(&b, "%s\n%llu\n%s\n", c->origin, (unsigned long long)c->size,
                              root)) != 0) {
        afs_buf_release(&b);
        return err;
    }
    *out = afs_buf_detach(&b, out_len);
    return 0;
}

int
auditfs_checkpoint_parse(auditfs_checkpoint *out, const char *text, size_t len)
{
    const char *lines[3];
    size_t lens[3];
    size_t bad;
    auditfs_checkpoint c;
    if (!out || (!text && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_checkpoint_parse: NULL argument");
    if (len > AUDITFS_NOTE_MAX_BYTES)
        return afs_error_set(AUDITFS_ETOOBIG, "checkpoint of %zu bytes exceeds the limit of %d",
                             len, AUDITFS_NOTE_MAX_BYTES);
    if (len == 0 || text[len - 1] != '\n')
        return afs_error_set(AUDITFS_EFORMAT, "checkpoint does not end in a newline");
    if ((bad = bad_line(text, len, 1)) != 0)
        return afs_error_set(AUDITFS_EFORMAT,
                             "checkpoint line %zu: invalid UTF-8 or a control character", bad);
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        if (pos == len)
            return afs_error_set(AUDITFS_EFORMAT,
                                 "checkpoint line %d: missing (want origin, size and root hash)",
                                 i + 1);
        const char *nl = memchr(text + pos, '\n', len - pos);
        lines[i] = text + pos;
        lens[i] = (size_t)(nl - lines[i]);
        pos += lens[i] + 1;
    }
    if (pos != len)
        return afs_error_set(AUDITFS_EFORMAT,
                             "checkpoint line 4: extension lines are not supported");
    memset(&c, 0, sizeof c);
    if (!origin_valid(lines[0], lens[0]))
        return afs_error_set(AUDITFS_EFORMAT,
                             "checkpoint line 1: origin must be 1-%d bytes without control "
                             "characters",
                             AUDITFS_NAME_MAX);
    memcpy(c.origin, lines[0], lens[0]);
    if (!afs_parse_u64(&c.size, lines[1], lens[1]))
        return afs_error_set(AUDITFS_EFORMAT,
                             "checkpoint line 2: tree size is not a canonical decimal number");
    if (lens[2] != AFS_B64_LEN(AUDITFS_HASH_BYTES) ||
        afs_b64_decode(c.root.b, sizeof c.root.b, lines[2], lens[2]) != AUDITFS_HASH_BYTES)
        return afs_error_set(AUDITFS_EFORMAT,
                             "checkpoint line 3: root hash is not canonical base64 of %d bytes",
                             AUDITFS_HASH_BYTES);
    *out = c;
    return 0;
}

int
auditfs_checkpoint_open(auditfs_checkpoint *out, const char *note, size_t len,
                        const auditfs_verifier *v, const char *origin)
{
    size_t tlen;
    auditfs_checkpoint c;
    int err;
    if (!out || !v || (!note && len))
        return afs_error_set(AUDITFS_EINVAL, "auditfs_checkpoint_open: NULL argument");
    if ((err = auditfs_note_verify(&tlen, note, len, v)) != 0)
        return err;
    if ((err = auditfs_checkpoint_parse(&c, note, tlen)) != 0)
        return err;
    if (origin && strcmp(origin, c.origin) != 0)
        return afs_error_set(AUDITFS_EVERIFY, "checkpoint origin \"%s\" is not the expected \"%s\"",
                             c.origin, origin);
    *out = c;
    return 0;
}

int
auditfs_checkpoint_sign(char **out, size_t *out_len, const auditfs_checkpoint *c,
                        const auditfs_signer *s)
{
    char *body = NULL;
    size_t body_len = 0;
    int err;
    if (!out || !c || !s)
        return afs_error_set(AUDITFS_EINVAL, "auditfs_checkpoint_sign: NULL argument");
    *out = NULL;
    if ((err = auditfs_checkpoint_format(&body, &body_len, c)) != 0)
        return err;
    err = auditfs_note_sign(out, out_len, body, body_len, s);
    free(body);
    return err;
}
