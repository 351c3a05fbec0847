// Why an exchange of c/shim/http.c failed: ct_http_exchange returns the
// negated value, ct_http_error holds the detail (errno text, OpenSSL's
// reason, the verify error). The TypeScript side classifies by this value
// (src/vault/classify_failure.ts), never by the text.
// TypeScript: ffi/constants.ts HTTP_FAILURES, indexed by this value
// (tests/ffi/constants_test.ts holds the two equal).
#ifndef CT_HTTP_H
#define CT_HTTP_H

#define CT_HTTP_FAILURES(X)                                                    \
  X(CT_HTTP_RESOLVE, "resolve")       /* getaddrinfo found no address */      \
  X(CT_HTTP_CONNECT, "connect")       /* every address refused or failed */   \
  X(CT_HTTP_TIMEOUT, "timeout")       /* the call's deadline passed */        \
  X(CT_HTTP_CANCELLED, "cancelled")   /* ct_http_cancel */                    \
  X(CT_HTTP_TLS_VERIFY, "tls_verify") /* server chain not trusted/valid */    \
  X(CT_HTTP_TLS_NAME, "tls_name")     /* server cert not for the name */      \
  X(CT_HTTP_TLS_REFUSED, "tls_refused") /* the server's alert names certs */  \
  X(CT_HTTP_TLS, "tls")               /* any other handshake/record error */  \
  X(CT_HTTP_CLOSED, "closed")         /* EOF or reset before a full answer */ \
  X(CT_HTTP_PROTOCOL, "protocol")     /* not an HTTP/1.x answer we can read */ \
  X(CT_HTTP_TOO_LARGE, "too_large")   /* headers > 64 KiB or body > 64 MiB */ \
  X(CT_HTTP_MEMORY, "memory")         /* malloc failed */                     \
  X(CT_HTTP_SETUP, "setup")           /* PEM/key given to the client is bad */

#define CT__HTTP_ENUM(id, name) id,
enum ct_http_failure { CT_HTTP_OK, CT_HTTP_FAILURES(CT__HTTP_ENUM) };
#undef CT__HTTP_ENUM

// ct_http_new flags.
#define CT_HTTP_PLAIN 1u       // http://: no TLS (CLOUDTASER_ALLOW_INSECURE_HTTP)
#define CT_HTTP_SKIP_VERIFY 2u // VAULT_SKIP_VERIFY

// ct_http_client_pair results (negated).
#define CT_HTTP_PAIR_CERT 1     // no certificate parses in the cert PEM
#define CT_HTTP_PAIR_KEY 2      // no private key parses in the key PEM
#define CT_HTTP_PAIR_MISMATCH 3 // the key is not the certificate's

#endif
