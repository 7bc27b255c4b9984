/* LD_PRELOAD shim for wrk in the TLS workloads of loadtest/lt.py (see loadtest/README.md, "TLS").
 *
 * wrk keeps one OpenSSL SSL object per connection slot and reuses it (SSL_clear) when it
 * reconnects, so with `Connection: close` every reconnection offers the previous session and the
 * server resumes it (checked: nginx logged $ssl_session_reused "r" for all but the first handshake
 * of each slot). This shim wraps SSL_connect:
 *   - LT_TLS_NORESUME=1: before each handshake starts, the session is dropped
 *     (SSL_set_session(ssl, NULL)): every handshake is a full one, as from a new client;
 *   - LT_TLS_SNI=name: the SNI sent (wrk sends the URL's host, here the IP literal 127.0.0.1, which
 *     no browser or curl sends); empty: wrk's own;
 *   - LT_TLS_STATS=path: at exit, one line written there:
 *       LT_TLS full=N resumed=M version=V cipher=C group=G
 *     (handshakes completed, as OpenSSL's SSL_session_reused() saw them, and the first one's
 *     parameters), so each run says how many full and resumed handshakes it really made.
 * No OpenSSL headers or link-time libraries: everything is looked up with dlsym at the first call,
 * inside wrk (taskset, which execs wrk, loads the shim too and never calls it).
 *   cc -shared -fPIC -O2 -o tls_shim.so tls_shim.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct ssl_st SSL;

static int (*real_connect)(SSL *);
static int (*p_reused)(const SSL *);
static int (*p_set_session)(SSL *, void *);
static int (*p_in_before)(const SSL *);
static long (*p_ctrl)(SSL *, int, long, void *);
static const char *(*p_version)(const SSL *);
static const void *(*p_cipher)(const SSL *);
static const char *(*p_cipher_name)(const void *);
static const char *(*p_nid2sn)(int);

static unsigned long n_full, n_resumed;
static int noresume = -1;
static char *sni;
static char first[256];

static void init(void) {
    real_connect = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_connect");
    p_reused = (int (*)(const SSL *))dlsym(RTLD_DEFAULT, "SSL_session_reused");
    p_set_session = (int (*)(SSL *, void *))dlsym(RTLD_DEFAULT, "SSL_set_session");
    p_in_before = (int (*)(const SSL *))dlsym(RTLD_DEFAULT, "SSL_in_before");
    p_ctrl = (long (*)(SSL *, int, long, void *))dlsym(RTLD_DEFAULT, "SSL_ctrl");
    p_version = (const char *(*)(const SSL *))dlsym(RTLD_DEFAULT, "SSL_get_version");
    p_cipher = (const void *(*)(const SSL *))dlsym(RTLD_DEFAULT, "SSL_get_current_cipher");
    p_cipher_name = (const char *(*)(const void *))dlsym(RTLD_DEFAULT, "SSL_CIPHER_get_name");
    p_nid2sn = (const char *(*)(int))dlsym(RTLD_DEFAULT, "OBJ_nid2sn");
    const char *e = getenv("LT_TLS_NORESUME");
    noresume = e && strcmp(e, "1") == 0;
    e = getenv("LT_TLS_SNI");
    sni = e && *e ? strdup(e) : NULL;
}

int SSL_connect(SSL *ssl) {
    if (noresume < 0)
        init();
    if (!real_connect)
        return -1;
    if (p_in_before && p_in_before(ssl)) {
        if (noresume && p_set_session)
            p_set_session(ssl, NULL);
        if (sni && p_ctrl)
            p_ctrl(ssl, 55 /* SSL_CTRL_SET_TLSEXT_HOSTNAME */, 0 /* host_name */, sni);
    }
    int r = real_connect(ssl);
    if (r == 1) {
        if (p_reused && p_reused(ssl))
            __atomic_fetch_add(&n_resumed, 1, __ATOMIC_RELAXED);
        else
            __atomic_fetch_add(&n_full, 1, __ATOMIC_RELAXED);
        if (!first[0] && p_version && p_cipher && p_cipher_name) {
            long nid = p_ctrl ? p_ctrl(ssl, 134 /* SSL_CTRL_GET_NEGOTIATED_GROUP */, 0, NULL) : 0;
            const char *g = nid > 0 && p_nid2sn ? p_nid2sn((int)nid) : NULL;
            const void *c = p_cipher(ssl);
            snprintf(first, sizeof first, "version=%s cipher=%s group=%s", p_version(ssl),
                     c ? p_cipher_name(c) : "?", g ? g : "?");
        }
    }
    return r;
}

__attribute__((destructor)) static void report(void) {
    const char *path = getenv("LT_TLS_STATS");
    if (!path || !*path || noresume < 0)
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "LT_TLS full=%lu resumed=%lu %s\n", n_full, n_resumed,
                     first[0] ? first : "version=? cipher=? group=?");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) < 0) {
        }
        close(fd);
    }
}
