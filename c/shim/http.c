// HTTP/1.1 over TLS for the wrapper's requests to Vault/OpenBao, with
// OpenSSL linked statically into the shim (src/vault/native_transport.ts
// drives it).
//
// Why not Deno's fetch: its TLS (rustls over AWS-LC) seeds AWS-LC's random
// generator from CPU jitter entropy once in every new process, 30-40 ms of
// CPU per start (docs/startup-profile.md); OpenSSL seeds from getrandom(2).
// And the bytes: rustls and hyper leave freed copies of every answer on
// Deno's heap, and fetch takes the token only as a JS string. Here the token
// goes out as bytes, every buffer OpenSSL or this file frees is zeroed first
// (the allocator below), and the body is handed to the caller once and wiped.
//
// One connection, one request at a time (the caller serializes); a
// kept-alive connection the server closed meanwhile is opened again once.
// ct_http_exchange runs on one of Deno's blocking threads (a nonblocking FFI
// symbol) under a deadline; ct_http_cancel, from the JS thread, wakes it
// through an eventfd. Failures return -CT_HTTP_* (ct/http.h) with the detail
// in ct_http_error, never a byte of a request or an answer.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ct/http.h"
#include "deadline.h"

#include "exports.h"
#define MAX_HEAD (64u << 10)
#define MAX_BODY (64u << 20)
#define READ_STEP (16u << 10)

// --- an allocator that zeroes what it frees --------------------------------
// OpenSSL decrypts records in place in its read buffer: without this, freed
// buffers would keep plaintext answers (secrets) on the heap. Installed by
// the constructor, before OpenSSL's first allocation; ct_http_new refuses to
// run without it.

static void zfree(void *p) {
  if (!p) return;
  explicit_bzero(p, malloc_usable_size(p));
  free(p);
}

static void *zrealloc(void *p, size_t n) {
  if (!p) return malloc(n);
  if (n == 0) {
    zfree(p);
    return NULL;
  }
  size_t old = malloc_usable_size(p);
  void *q = malloc(n);
  if (!q) return NULL;
  memcpy(q, p, old < n ? old : n);
  zfree(p);
  return q;
}

static void *ossl_malloc(size_t n, const char *file, int line) {
  (void)file, (void)line;
  return malloc(n);
}
static void *ossl_realloc(void *p, size_t n, const char *file, int line) {
  (void)file, (void)line;
  return zrealloc(p, n);
}
static void ossl_free(void *p, const char *file, int line) {
  (void)file, (void)line;
  zfree(p);
}

static int zeroing_allocator;

__attribute__((constructor)) static void install_allocator(void) {
  zeroing_allocator =
      CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free);
}

// --- the client -------------------------------------------------------------

struct ct_http {
  unsigned flags;
  SSL_CTX *ctx;
  int cas;         // CA certificates added; none: the system's store
  // The client pair, set on each connection (never on the context), so
  // that ct_http_forget_key can drop the key once no handshake needs it.
  X509 *cert;
  STACK_OF(X509) *chain;
  EVP_PKEY *key;
  int key_forgotten;
  SSL *ssl;        // NULL when plain or not connected
  int fd;          // -1 when not connected
  int cancel_fd;   // eventfd written by ct_http_cancel
  char host[256];  // connect to
  char port[8];
  char name[256];  // the server certificate must be valid for it
  int name_is_ip;
  unsigned char *in;  // the raw answer
  size_t in_len, in_cap;
  unsigned char *body;
  size_t body_len;
  int status;
  int close_after; // Connection: close, or a body delimited by EOF
  char retry_after[64];
  char err[512];
};

static int fail(struct ct_http *h, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(h->err, sizeof h->err, fmt, ap);
  va_end(ap);
  return -code;
}

// Appends OpenSSL's first queued reason to h->err and clears the queue.
static void ossl_reason(struct ct_http *h) {
  unsigned long e = ERR_peek_error();
  if (e) {
    size_t at = strlen(h->err);
    if (at + 3 < sizeof h->err) {
      memcpy(h->err + at, ": ", 3);
      ERR_error_string_n(e, h->err + at + 2, sizeof h->err - at - 2);
    }
  }
  ERR_clear_error();
}

static int no_passphrase(char *buf, int size, int rw, void *u) {
  (void)buf, (void)size, (void)rw, (void)u;
  return 0; // an encrypted key fails to load instead of prompting
}

static struct ct_http *handle(uint64_t p) {
  return (struct ct_http *)(uintptr_t)p;
}

static void drop_pair(struct ct_http *h) {
  EVP_PKEY_free(h->key);
  X509_free(h->cert);
  sk_X509_pop_free(h->chain, X509_free);
  h->key = NULL;
  h->cert = NULL;
  h->chain = NULL;
}

EXPORT int ct_http_new(uint32_t flags, uint64_t *out) {
  if (!(flags & CT_HTTP_PLAIN) && !zeroing_allocator) return -CT_HTTP_SETUP;
  struct ct_http *h = calloc(1, sizeof *h);
  if (!h) return -CT_HTTP_MEMORY;
  h->flags = flags;
  h->fd = -1;
  h->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (h->cancel_fd < 0) {
    free(h);
    return -CT_HTTP_MEMORY;
  }
  if (!(flags & CT_HTTP_PLAIN)) {
    // No openssl.cnf: the app image's file system must not choose our
    // protocols or load a provider into the wrapper.
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT,
                     NULL);
    h->ctx = SSL_CTX_new(TLS_client_method());
    if (!h->ctx) {
      close(h->cancel_fd);
      free(h);
      ERR_clear_error();
      return -CT_HTTP_MEMORY;
    }
    SSL_CTX_set_min_proto_version(h->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(h->ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_options(h->ctx, SSL_OP_NO_RENEGOTIATION |
                                    SSL_OP_IGNORE_UNEXPECTED_EOF |
                                    SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(h->ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_default_passwd_cb(h->ctx, no_passphrase);
    SSL_CTX_set_verify(h->ctx,
                       flags & CT_HTTP_SKIP_VERIFY ? SSL_VERIFY_NONE
                                                   : SSL_VERIFY_PEER,
                       NULL);
  }
  *out = (uint64_t)(uintptr_t)h;
  return 0;
}

// Trusts every certificate in `pem`; returns how many, or -CT_HTTP_SETUP
// (none, or one that does not parse: ct_http_error says which).
EXPORT int ct_http_ca(uint64_t hp, const uint8_t *pem, uint64_t len) {
  struct ct_http *h = handle(hp);
  if (!h->ctx) return fail(h, CT_HTTP_SETUP, "no TLS on a plain client");
  ERR_clear_error();
  BIO *b = BIO_new_mem_buf(pem, (int)len);
  if (!b) return -CT_HTTP_MEMORY;
  X509_STORE *store = SSL_CTX_get_cert_store(h->ctx);
  int n = 0;
  for (;;) {
    X509 *x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL);
    if (!x) break;
    X509_STORE_add_cert(store, x); // a duplicate is no error for us
    X509_free(x);
    n++;
  }
  BIO_free(b);
  unsigned long e = ERR_peek_last_error();
  if (n > 0 && ERR_GET_LIB(e) == ERR_LIB_PEM &&
      ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    e = 0; // the end of the file
  }
  if (n == 0 || e) {
    fail(h, CT_HTTP_SETUP,
         n ? "certificate %d does not parse" : "no certificate parses", n + 1);
    ossl_reason(h);
    return -CT_HTTP_SETUP;
  }
  ERR_clear_error();
  h->cas += n;
  return n;
}

// The client certificate (leaf first, then its chain) and its key, both PEM.
// Returns 0, or -CT_HTTP_PAIR_* with the reason in ct_http_error.
EXPORT int ct_http_client_pair(uint64_t hp, const uint8_t *cert,
                               uint64_t cert_len, const uint8_t *key,
                               uint64_t key_len) {
  struct ct_http *h = handle(hp);
  if (!h->ctx) return fail(h, CT_HTTP_PAIR_CERT, "no TLS on a plain client");
  ERR_clear_error();
  int r = 0;
  EVP_PKEY *pkey = NULL;
  BIO *cb = BIO_new_mem_buf(cert, (int)cert_len);
  BIO *kb = BIO_new_mem_buf(key, (int)key_len);
  if (!cb || !kb) {
    r = fail(h, CT_HTTP_PAIR_CERT, "out of memory");
    goto out;
  }
  X509 *leaf = PEM_read_bio_X509(cb, NULL, no_passphrase, NULL);
  if (!leaf) {
    r = fail(h, CT_HTTP_PAIR_CERT, "no certificate parses");
    ossl_reason(h);
    goto out;
  }
  STACK_OF(X509) *chain = sk_X509_new_null();
  if (!chain) {
    X509_free(leaf);
    r = fail(h, CT_HTTP_PAIR_CERT, "out of memory");
    goto out;
  }
  for (X509 *x; (x = PEM_read_bio_X509(cb, NULL, no_passphrase, NULL));) {
    if (!sk_X509_push(chain, x)) X509_free(x);
  }
  ERR_clear_error(); // the end of the chain
  pkey = PEM_read_bio_PrivateKey(kb, NULL, no_passphrase, NULL);
  if (!pkey) {
    r = fail(h, CT_HTTP_PAIR_KEY, "no private key parses");
    ossl_reason(h);
  } else if (X509_check_private_key(leaf, pkey) != 1) {
    r = fail(h, CT_HTTP_PAIR_MISMATCH, "the key is not the certificate's");
    ossl_reason(h);
  }
  if (r < 0) {
    X509_free(leaf);
    sk_X509_pop_free(chain, X509_free);
    goto out;
  }
  drop_pair(h);
  h->cert = leaf;
  h->chain = chain;
  h->key = pkey;
  pkey = NULL;
out:
  EVP_PKEY_free(pkey);
  BIO_free(cb);
  BIO_free(kb);
  return r;
}

// Drops the client key (and its certificate) once no handshake needs it:
// OpenSSL frees it through the zeroing allocator, so a process frozen
// after its reads holds no copy. A connection made after this one has no
// client certificate (fails against a server that requires one).
EXPORT int ct_http_forget_key(uint64_t hp) {
  struct ct_http *h = handle(hp);
  if (h->ssl) SSL_certs_clear(h->ssl);
  h->key_forgotten = h->key != NULL;
  drop_pair(h);
  return 0;
}

// Where to connect (host without brackets, port) and the name the server
// certificate must be valid for (VAULT_TLS_SERVER_NAME, else the host).
EXPORT int ct_http_target(uint64_t hp, const char *host, const char *port,
                          const char *name) {
  struct ct_http *h = handle(hp);
  if (strlen(host) >= sizeof h->host || strlen(port) >= sizeof h->port ||
      strlen(name) >= sizeof h->name) {
    return fail(h, CT_HTTP_SETUP, "host, port or server name too long");
  }
  strcpy(h->host, host);
  strcpy(h->port, port);
  strcpy(h->name, name);
  unsigned char ip[16];
  h->name_is_ip = inet_pton(AF_INET, name, ip) == 1 ||
                  inet_pton(AF_INET6, name, ip) == 1;
  return 0;
}

// --- I/O under the deadline ---------------------------------------------

// Waits until fd is ready for `events`; -CT_HTTP_TIMEOUT / _CANCELLED.
static int wait_fd(struct ct_http *h, short events, int64_t deadline,
                   const char *doing) {
  int r = ct_wait_fd(h->fd, events, h->cancel_fd, deadline);
  if (r == -ETIMEDOUT) return fail(h, CT_HTTP_TIMEOUT, "timed out %s", doing);
  if (r == -ECANCELED) return fail(h, CT_HTTP_CANCELLED, "cancelled");
  if (r < 0) return fail(h, CT_HTTP_CONNECT, "poll: %s", strerror(-r));
  return 0;
}

static void close_conn(struct ct_http *h) {
  if (h->ssl) SSL_free(h->ssl); // no close_notify: the fd closes anyway
  h->ssl = NULL;
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
}

// Why a handshake or a record failed, by what OpenSSL knows.
static int tls_fail(struct ct_http *h, int ret, const char *doing) {
  int e = SSL_get_error(h->ssl, ret);
  long v = SSL_get_verify_result(h->ssl);
  if (v != X509_V_OK) {
    int name = v == X509_V_ERR_HOSTNAME_MISMATCH ||
               v == X509_V_ERR_IP_ADDRESS_MISMATCH;
    ERR_clear_error();
    return fail(h, name ? CT_HTTP_TLS_NAME : CT_HTTP_TLS_VERIFY,
                "%s: certificate verify failed: %s", doing,
                X509_verify_cert_error_string(v));
  }
  if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
    int err = errno;
    ERR_clear_error();
    return fail(h, CT_HTTP_CLOSED, "%s: %s", doing,
                e == SSL_ERROR_SYSCALL && err ? strerror(err)
                                              : "the server closed the connection");
  }
  unsigned long q = ERR_peek_error();
  int code = CT_HTTP_TLS;
  if (ERR_GET_LIB(q) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(q)) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV1_ALERT_DECRYPT_ERROR:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      code = CT_HTTP_TLS_REFUSED;
      break;
    }
  }
  fail(h, code, "%s", doing);
  ossl_reason(h);
  return -code;
}

// After an SSL call returned `ret` <= 0: waits for what OpenSSL wants
// next (0), or fails saying why.
static int ssl_retry(struct ct_http *h, int ret, int64_t deadline,
                     const char *doing) {
  int e = SSL_get_error(h->ssl, ret);
  if (e == SSL_ERROR_WANT_READ) return wait_fd(h, POLLIN, deadline, doing);
  if (e == SSL_ERROR_WANT_WRITE) return wait_fd(h, POLLOUT, deadline, doing);
  return tls_fail(h, ret, doing);
}

static int open_conn(struct ct_http *h, int64_t deadline) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
  struct addrinfo *ai = NULL;
  int g = getaddrinfo(h->host, h->port, &hints, &ai);
  if (g != 0) {
    return fail(h, CT_HTTP_RESOLVE, "resolving %s: %s", h->host,
                g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
  }
  int r = fail(h, CT_HTTP_CONNECT, "no address for %s", h->host);
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    h->fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0);
    if (h->fd < 0) {
      r = fail(h, CT_HTTP_CONNECT, "socket: %s", strerror(errno));
      continue;
    }
    int c = connect(h->fd, a->ai_addr, a->ai_addrlen);
    if (c < 0 && errno == EINPROGRESS) {
      c = wait_fd(h, POLLOUT, deadline, "connecting");
      if (c == -CT_HTTP_TIMEOUT || c == -CT_HTTP_CANCELLED) {
        close_conn(h);
        freeaddrinfo(ai);
        return c;
      }
      int soerr = 0;
      socklen_t sl = sizeof soerr;
      getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
      errno = soerr;
      c = soerr ? -1 : 0;
    }
    if (c == 0) {
      r = 0;
      break;
    }
    r = fail(h, CT_HTTP_CONNECT, "connect: %s", strerror(errno));
    close_conn(h);
  }
  freeaddrinfo(ai);
  if (r < 0) return r;
  // One request is one write and its answer comes before the next: nothing
  // small should wait for the server's delayed ACK (Nagle).
  int one = 1;
  setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!h->ctx) return 0;

  if (!h->cas && !(h->flags & CT_HTTP_SKIP_VERIFY)) {
    SSL_CTX_set_default_verify_paths(h->ctx); // SSL_CERT_FILE, /etc/ssl
    h->cas = -1;
  }
  h->ssl = SSL_new(h->ctx);
  if (!h->ssl || SSL_set_fd(h->ssl, h->fd) != 1) {
    close_conn(h);
    return fail(h, CT_HTTP_MEMORY, "SSL_new");
  }
  if (h->key_forgotten) {
    close_conn(h);
    return fail(h, CT_HTTP_SETUP,
                "the client key was dropped after the reads; no new "
                "connection can present it");
  }
  if (h->key &&
      SSL_use_cert_and_key(h->ssl, h->cert, h->key, h->chain, 1) != 1) {
    close_conn(h);
    return fail(h, CT_HTTP_MEMORY, "SSL_use_cert_and_key");
  }
  if (!h->name_is_ip) SSL_set_tlsext_host_name(h->ssl, h->name);
  if (!(h->flags & CT_HTTP_SKIP_VERIFY)) {
    int ok = h->name_is_ip
                 ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(h->ssl), h->name)
                 : SSL_set1_host(h->ssl, h->name);
    if (ok != 1) {
      close_conn(h);
      return fail(h, CT_HTTP_SETUP, "cannot verify against %s", h->name);
    }
  }
  for (;;) {
    ERR_clear_error();
    int s = SSL_connect(h->ssl);
    if (s == 1) return 0;
    int w = ssl_retry(h, s, deadline, "in the TLS handshake");
    if (w < 0) {
      close_conn(h);
      return w;
    }
  }
}

static int send_all(struct ct_http *h, const uint8_t *p, size_t n,
                    int64_t deadline) {
  while (n > 0) {
    ssize_t w;
    if (h->ssl) {
      ERR_clear_error();
      int s = SSL_write(h->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
      if (s <= 0) {
        int r = ssl_retry(h, s, deadline, "sending");
        if (r < 0) return r;
        continue;
      }
      w = s;
    } else {
      w = send(h->fd, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          int r = wait_fd(h, POLLOUT, deadline, "sending");
          if (r < 0) return r;
          continue;
        }
        return fail(h, CT_HTTP_CLOSED, "sending: %s", strerror(errno));
      }
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

// Reads more of the answer into h->in: > 0 bytes, 0 at EOF, < 0 a failure.
static int read_more(struct ct_http *h, size_t limit, int64_t deadline) {
  if (h->in_len >= limit) {
    return fail(h, CT_HTTP_TOO_LARGE, "the answer is larger than %zu bytes",
                (size_t)limit);
  }
  if (h->in_cap - h->in_len < READ_STEP) {
    size_t cap = h->in_cap ? h->in_cap * 2 : 2 * READ_STEP;
    void *p = zrealloc(h->in, cap);
    if (!p) return fail(h, CT_HTTP_MEMORY, "out of memory");
    h->in = p;
    h->in_cap = cap;
  }
  for (;;) {
    size_t room = h->in_cap - h->in_len;
    if (h->ssl) {
      ERR_clear_error();
      int s = SSL_read(h->ssl, h->in + h->in_len, (int)room);
      if (s > 0) {
        h->in_len += (size_t)s;
        return s;
      }
      if (SSL_get_error(h->ssl, s) == SSL_ERROR_ZERO_RETURN) return 0;
      int r = ssl_retry(h, s, deadline, "reading the answer");
      if (r < 0) return r;
    } else {
      ssize_t s = recv(h->fd, h->in + h->in_len, room, 0);
      if (s >= 0) {
        h->in_len += (size_t)s;
        return (int)s;
      }
      if (errno != EAGAIN && errno != EINTR) {
        return fail(h, CT_HTTP_CLOSED, "reading the answer: %s",
                    strerror(errno));
      }
      int r = wait_fd(h, POLLIN, deadline, "waiting for the answer");
      if (r < 0) return r;
    }
  }
}

// Decodes a chunked body p[0..n). Returns 1 when complete (*len data bytes,
// written to out unless NULL), 0 when more is needed, -1 when malformed.
static int dechunk(const unsigned char *p, size_t n, unsigned char *out,
                   size_t *len) {
  size_t at = 0, total = 0;
  for (;;) {
    size_t size = 0, digits = 0;
    while (at < n && ((p[at] >= '0' && p[at] <= '9') ||
                      ((p[at] | 0x20) >= 'a' && (p[at] | 0x20) <= 'f'))) {
      int d = p[at] <= '9' ? p[at] - '0' : (p[at] | 0x20) - 'a' + 10;
      if (size > MAX_BODY) return -1;
      size = size * 16 + (size_t)d;
      at++, digits++;
    }
    const unsigned char *eol = memmem(p + at, n - at, "\r\n", 2);
    if (!eol) return at == n || n - at < 1024 ? 0 : -1;
    if (!digits) return -1;
    at = (size_t)(eol - p) + 2; // past chunk extensions
    if (size == 0) break;
    if (total + size > MAX_BODY) return -1;
    if (n - at < size + 2) return 0;
    if (p[at + size] != '\r' || p[at + size + 1] != '\n') return -1;
    if (out) memcpy(out + total, p + at, size);
    total += size;
    at += size + 2;
  }
  // Trailers, up to the empty line.
  for (;;) {
    const unsigned char *eol = memmem(p + at, n - at, "\r\n", 2);
    if (!eol) return 0;
    size_t line = (size_t)(eol - (p + at));
    at += line + 2;
    if (line == 0) break;
  }
  *len = total;
  return 1;
}

static int header_is(const char *line, size_t n, const char *name,
                     const char **value, size_t *vlen) {
  size_t k = strlen(name);
  if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) return 0;
  const char *v = line + k + 1, *end = line + n;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
  *value = v;
  *vlen = (size_t)(end - v);
  return 1;
}

// Reads one answer; returns its status or a failure. *got_any says whether
// a byte came (a stale kept-alive connection sends none).
static int read_answer(struct ct_http *h, int64_t deadline, int *got_any) {
  h->in_len = 0;
  size_t head;
  for (;;) {
    const unsigned char *end =
        h->in_len ? memmem(h->in, h->in_len, "\r\n\r\n", 4) : NULL;
    if (end) {
      head = (size_t)(end - h->in) + 4;
      if (h->in_len >= 12 && !memcmp(h->in, "HTTP/1.", 7) && h->in[9] == '1' &&
          h->in[10] != '0' && h->in[10] != '1') {
        // 1xx (not 101): an interim answer; the real one follows.
        memmove(h->in, h->in + head, h->in_len - head);
        h->in_len -= head;
        continue;
      }
      break;
    }
    int r = read_more(h, MAX_HEAD, deadline);
    if (r < 0) return r;
    if (r == 0) {
      return fail(h, CT_HTTP_CLOSED,
                  "the server closed the connection before answering");
    }
    *got_any = 1;
  }
  const char *s = (const char *)h->in;
  if (head < 14 || memcmp(s, "HTTP/1.", 7) || s[8] != ' ' ||
      (s[12] != ' ' && s[12] != '\r')) {
    return fail(h, CT_HTTP_PROTOCOL, "the answer is not HTTP/1.x");
  }
  int status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
  if (status < 100 || status > 599) {
    return fail(h, CT_HTTP_PROTOCOL, "the answer has no valid status");
  }
  long long length = -1;
  int chunked = 0;
  h->close_after = s[7] == '0';
  h->retry_after[0] = 0;
  const char *line = memchr(s, '\n', head) + 1;
  while (line < s + head - 2) {
    const char *eol = memchr(line, '\r', (size_t)(s + head - line));
    size_t n = (size_t)(eol - line);
    const char *v;
    size_t vl;
    if (header_is(line, n, "content-length", &v, &vl)) {
      char num[24] = {0};
      if (vl == 0 || vl >= sizeof num || strspn(v, "0123456789") < vl) {
        return fail(h, CT_HTTP_PROTOCOL, "bad Content-Length");
      }
      memcpy(num, v, vl);
      length = atoll(num);
      if (length > (long long)MAX_BODY) {
        return fail(h, CT_HTTP_TOO_LARGE, "a body of %lld bytes", length);
      }
    } else if (header_is(line, n, "transfer-encoding", &v, &vl)) {
      chunked = memmem(v, vl, "chunked", 7) != NULL;
    } else if (header_is(line, n, "connection", &v, &vl)) {
      if (vl == 5 && !strncasecmp(v, "close", 5)) h->close_after = 1;
    } else if (header_is(line, n, "retry-after", &v, &vl)) {
      if (vl >= sizeof h->retry_after) vl = sizeof h->retry_after - 1;
      memcpy(h->retry_after, v, vl);
      h->retry_after[vl] = 0;
    }
    line = eol + 2;
  }
  size_t body_len = 0;
  if (status == 204 || status == 304) {
    length = 0;
  }
  for (;;) {
    size_t avail = h->in_len - head;
    int done;
    if (chunked) {
      done = dechunk(h->in + head, avail, NULL, &body_len);
      if (done < 0) return fail(h, CT_HTTP_PROTOCOL, "bad chunked body");
    } else if (length >= 0) {
      done = avail >= (size_t)length;
      body_len = (size_t)length;
    } else {
      done = 0;
      body_len = avail;
    }
    if (done) break;
    int r = read_more(h, head + MAX_BODY + (chunked ? 1u << 20 : 0), deadline);
    if (r < 0) return r;
    if (r == 0) {
      if (chunked || length >= 0) {
        return fail(h, CT_HTTP_CLOSED, "the answer was cut short");
      }
      h->close_after = 1; // the body ran to EOF
      break;
    }
  }
  h->body = malloc(body_len ? body_len : 1);
  if (!h->body) return fail(h, CT_HTTP_MEMORY, "out of memory");
  if (chunked) {
    dechunk(h->in + head, h->in_len - head, h->body, &body_len);
  } else {
    memcpy(h->body, h->in + head, body_len);
  }
  h->body_len = body_len;
  explicit_bzero(h->in, h->in_len);
  h->in_len = 0;
  return status;
}

static void drop_body(struct ct_http *h) {
  if (h->body) {
    explicit_bzero(h->body, h->body_len);
    free(h->body);
  }
  h->body = NULL;
  h->body_len = 0;
}

// Sends a request and reads the answer, within timeout_ms: `head` (request
// line and headers, ending in "X-Vault-Token: " when there is a token), the
// token's bytes, read where they live (the token's memfd_secret region), and
// `tail` (the end of the headers and the body). The three are put together
// only once the connection is up, in a buffer wiped right after the write:
// an exchange stuck in connect or the handshake holds no token outside its
// region. Returns the status (100-599) or -CT_HTTP_*; the body waits in the
// client for ct_http_body.
EXPORT int ct_http_exchange(uint64_t hp, const uint8_t *head, uint64_t head_len,
                            const uint8_t *token, uint64_t token_len,
                            const uint8_t *tail, uint64_t tail_len,
                            uint32_t timeout_ms) {
  struct ct_http *h = handle(hp);
  drop_body(h);
  h->err[0] = 0;
  if (!token) token_len = 0;
  size_t len = head_len + token_len + tail_len;
  int64_t deadline = ct_now_ms() + timeout_ms;
  for (int attempt = 0;; attempt++) {
    int reused = h->fd >= 0;
    if (!reused) {
      int r = open_conn(h, deadline);
      if (r < 0) return r;
    }
    uint8_t *req = malloc(len ? len : 1);
    if (!req) return fail(h, CT_HTTP_MEMORY, "out of memory");
    memcpy(req, head, head_len);
    if (token_len) memcpy(req + head_len, token, token_len);
    memcpy(req + head_len + token_len, tail, tail_len);
    int got_any = 0;
    int r = send_all(h, req, len, deadline);
    explicit_bzero(req, len);
    free(req);
    if (r == 0) r = read_answer(h, deadline, &got_any);
    if (h->in) explicit_bzero(h->in, h->in_len);
    h->in_len = 0;
    if (r > 0) {
      if (h->close_after) close_conn(h);
      return r;
    }
    close_conn(h);
    // A kept-alive connection the server closed while it was idle: the
    // request never reached it, so it is sent again once, on a new one.
    if (!(reused && !got_any && r == -CT_HTTP_CLOSED) || attempt > 0) {
      return r;
    }
  }
}

EXPORT uint64_t ct_http_body_len(uint64_t hp) { return handle(hp)->body_len; }

// Copies the body into out (cap bytes) and wipes the client's copy.
EXPORT int ct_http_body(uint64_t hp, uint8_t *out, uint64_t cap) {
  struct ct_http *h = handle(hp);
  if (cap < h->body_len) return -CT_HTTP_TOO_LARGE;
  if (h->body_len) memcpy(out, h->body, h->body_len);
  drop_body(h);
  return 0;
}

// Copies a NUL-terminated text into out: the last failure's detail (what 0)
// or the last answer's Retry-After (what 1, empty without one).
EXPORT int ct_http_text(uint64_t hp, uint32_t what, uint8_t *out,
                        uint64_t cap) {
  struct ct_http *h = handle(hp);
  const char *s = what ? h->retry_after : h->err;
  size_t n = strnlen(s, cap ? cap - 1 : 0);
  memcpy(out, s, n);
  if (cap) out[n] = 0;
  return (int)n;
}

// Wakes an exchange in flight (it returns -CT_HTTP_CANCELLED); from any
// thread. Sticky: every later exchange fails the same way, so a cancel that
// comes before the exchange's thread polls is not lost.
EXPORT int ct_http_cancel(uint64_t hp) {
  uint64_t one = 1;
  return write(handle(hp)->cancel_fd, &one, sizeof one) < 0 ? -errno : 0;
}

// Closes the connection and frees the client; never while an exchange runs.
EXPORT void ct_http_free(uint64_t hp) {
  struct ct_http *h = handle(hp);
  close_conn(h);
  drop_body(h);
  zfree(h->in);
  drop_pair(h);
  SSL_CTX_free(h->ctx);
  close(h->cancel_fd);
  explicit_bzero(h, sizeof *h);
  free(h);
}

// Pays OpenSSL's one-time costs (initialisation, the default provider's
// algorithm tables: the first SSL_CTX_new costs 1.5-2 ms, the next ones 0.2)
// on one of Deno's blocking threads while the start does other work, before
// anything secret exists: no key, no certificate, no connection.
EXPORT int ct_http_warm(void) {
  if (!zeroing_allocator) return -CT_HTTP_SETUP;
  OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT, NULL);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    ERR_clear_error();
    return -CT_HTTP_MEMORY;
  }
  SSL_CTX_free(ctx);
  return 0;
}
