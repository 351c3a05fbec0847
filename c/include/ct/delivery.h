// How the app receives its secrets: the supervisor's `--delivery` argument,
// which the shim's hand-over passes on (c/shim/handover.c) and the
// supervisor parses (c/supervisor/supervisor.c).
// TypeScript: ffi/constants.ts DELIVERIES, in this order
// (tests/ffi/constants_test.ts holds the two equal).
#ifndef CT_DELIVERY_H
#define CT_DELIVERY_H

#include <string.h>

#define CT_DELIVERIES(X)                                                       \
  X(CT_DELIVERY_ENV, "env")                                                    \
  X(CT_DELIVERY_INTERPOSER, "interposer")                                      \
  X(CT_DELIVERY_FD, "fd")

#define CT__DELIVERY_ENUM(id, name) id,
enum ct_delivery { CT_DELIVERY_UNSET = -1, CT_DELIVERIES(CT__DELIVERY_ENUM) };
#undef CT__DELIVERY_ENUM

// The delivery named s, or CT_DELIVERY_UNSET.
static inline enum ct_delivery ct_delivery_parse(const char *s) {
#define CT__DELIVERY_MATCH(id, name)                                           \
  if (s != NULL && strcmp(s, name) == 0) return id;
  CT_DELIVERIES(CT__DELIVERY_MATCH)
#undef CT__DELIVERY_MATCH
  return CT_DELIVERY_UNSET;
}

// The name of d ("env"), or NULL.
static inline const char *ct_delivery_name(enum ct_delivery d) {
#define CT__DELIVERY_CASE(id, name)                                            \
  case id:                                                                     \
    return name;
  switch (d) {
    CT_DELIVERIES(CT__DELIVERY_CASE)
  default:
    return NULL;
  }
#undef CT__DELIVERY_CASE
}

#endif
