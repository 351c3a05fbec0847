// The shim's exports that the TypeScript side reaches through ct_call
// (c/shim/call.c), by number. One FFI symbol for all of them instead of
// one each: Deno compiles a call trampoline for every declared symbol when
// the library is opened, 0.15-0.2 ms of CPU each at every start (35
// symbols: 5-7 ms, measured). The calls that block (an HTTP exchange, the
// wait for a signal, the enforcer's answer, OpenSSL's warm-up) go through
// the same ct_call declared a second time as a nonblocking symbol: they run
// on one of Deno's blocking threads (ffi/call.ts poolCall).
// TypeScript: ffi/constants.ts CALLS, indexed by this value
// (tests/ffi/constants_test.ts holds the two equal).
#ifndef CT_CALLS_H
#define CT_CALLS_H

#define CT_CALLS(X)                                                            \
  /* shim.c */                                                                 \
  X(memfd_secret) X(ftruncate) X(close) X(mmap) X(munmap) X(mlock)             \
  X(madvise) X(get_dumpable) X(set_dumpable) X(find_tracer)                    \
  X(get_core_limit) X(set_core_limit) X(explicit_bzero) X(copy_in) X(memeq)    \
  X(page_size) X(read_self) X(access) X(region_map) X(read_file)               \
  /* handover.c */                                                             \
  X(capture_signals) X(pending_signals) X(claim_signals) X(foreign_signals)    \
  X(hand_over) X(wake_signals) X(wait_signals)                                \
  /* http.c */                                                                 \
  X(http_new) X(http_ca) X(http_client_pair) X(http_target) X(http_body_len)   \
  X(http_body) X(http_text) X(http_cancel) X(http_free) X(http_exchange)       \
  X(http_warm) X(http_forget_key)                                              \
  /* enforcer.c */                                                             \
  X(enforcer_register)                                                         \
  /* sdk.c */                                                                  \
  X(fd_size)

#define CT__CALL_ENUM(name) CT_CALL_##name,
enum ct_call { CT_CALL_NONE, CT_CALLS(CT__CALL_ENUM) };
#undef CT__CALL_ENUM

#endif
