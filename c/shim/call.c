// ct_call: the one FFI symbol through which the TypeScript side (ffi/call.ts
// nativeCall, and poolCall on Deno's blocking threads) reaches every export,
// by number (ct/calls.h says why). Arguments come as an array of 64-bit integers:
// numbers, and the addresses of the caller's buffers.
#include <errno.h>

#include "ct/calls.h"
#include "exports.h"

#define U(i) ((uint64_t)a[i])
#define I(i) ((int)a[i])
#define P(type, i) ((type)(uintptr_t)a[i])

EXPORT int64_t ct_call(uint32_t op, const int64_t *a) {
  switch ((enum ct_call)op) {
  case CT_CALL_memfd_secret: return ct_memfd_secret((unsigned)a[0]);
  case CT_CALL_ftruncate: return ct_ftruncate(I(0), U(1));
  case CT_CALL_close: return ct_close(I(0));
  case CT_CALL_mmap:
    return ct_mmap(U(0), U(1), I(2), I(3), I(4), U(5), P(uint64_t *, 6));
  case CT_CALL_munmap: return ct_munmap(U(0), U(1));
  case CT_CALL_mlock: return ct_mlock(U(0), U(1));
  case CT_CALL_madvise: return ct_madvise(U(0), U(1), I(2));
  case CT_CALL_get_dumpable: return ct_get_dumpable();
  case CT_CALL_set_dumpable: return ct_set_dumpable(I(0));
  case CT_CALL_find_tracer: return ct_find_tracer(P(int32_t *, 0));
  case CT_CALL_get_core_limit: return ct_get_core_limit(P(uint64_t *, 0));
  case CT_CALL_set_core_limit: return ct_set_core_limit(U(0), U(1));
  case CT_CALL_explicit_bzero: return ct_explicit_bzero(U(0), U(1));
  case CT_CALL_copy_in: return ct_copy_in(U(0), P(const void *, 1), U(2));
  case CT_CALL_memeq: return ct_memeq(U(0), P(const void *, 1), U(2));
  case CT_CALL_page_size: return ct_page_size();
  case CT_CALL_read_self: return ct_read_self(U(0), P(void *, 1), U(2));
  case CT_CALL_access: return ct_access(P(const char *, 0), I(1));
  case CT_CALL_region_map: return ct_region_map(I(0), U(1), P(uint64_t *, 2));
  case CT_CALL_read_file:
    return ct_read_file(P(const char *, 0), P(uint8_t *, 1), U(2));
  case CT_CALL_capture_signals: return ct_capture_signals();
  case CT_CALL_pending_signals: return ct_pending_signals();
  case CT_CALL_claim_signals: return ct_claim_signals();
  case CT_CALL_foreign_signals: return ct_foreign_signals();
  case CT_CALL_hand_over:
    return ct_hand_over(P(const uint8_t *, 0), U(1), U(2), U(3), I(4),
                        P(const char *, 5), P(const char *, 6), U(7),
                        P(const char *, 8), U(9), (int32_t)a[10], U(11), U(12),
                        I(13), P(const uint8_t *, 14), U(15),
                        P(const uint8_t *, 16), U(17), P(const char *, 18),
                        U(19), P(int32_t *, 20));
  case CT_CALL_wake_signals: return ct_wake_signals();
  case CT_CALL_wait_signals: return ct_wait_signals();
  case CT_CALL_http_new: return ct_http_new((uint32_t)a[0], P(uint64_t *, 1));
  case CT_CALL_http_ca: return ct_http_ca(U(0), P(const uint8_t *, 1), U(2));
  case CT_CALL_http_client_pair:
    return ct_http_client_pair(U(0), P(const uint8_t *, 1), U(2),
                               P(const uint8_t *, 3), U(4));
  case CT_CALL_http_target:
    return ct_http_target(U(0), P(const char *, 1), P(const char *, 2),
                          P(const char *, 3));
  case CT_CALL_http_body_len: return (int64_t)ct_http_body_len(U(0));
  case CT_CALL_http_body: return ct_http_body(U(0), P(uint8_t *, 1), U(2));
  case CT_CALL_http_text:
    return ct_http_text(U(0), (uint32_t)a[1], P(uint8_t *, 2), U(3));
  case CT_CALL_http_cancel: return ct_http_cancel(U(0));
  case CT_CALL_http_free: ct_http_free(U(0)); return 0;
  case CT_CALL_http_exchange:
    return ct_http_exchange(U(0), P(const uint8_t *, 1), U(2),
                            P(const uint8_t *, 3), U(4), P(const uint8_t *, 5),
                            U(6), (uint32_t)a[7]);
  case CT_CALL_http_warm: return ct_http_warm();
  case CT_CALL_http_forget_key: return ct_http_forget_key(U(0));
  case CT_CALL_enforcer_register:
    return ct_enforcer_register(P(const char *, 0), (uint32_t)a[1],
                                P(uint8_t *, 2), U(3));
  case CT_CALL_fd_size: return ct_fd_size(I(0));
  case CT_CALL_NONE: break;
  }
  return -ENOSYS;
}
