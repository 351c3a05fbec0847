// Every function the shim exports, in one place: each .c file of the shim
// includes it (the compiler checks each definition against it) and
// call.c's dispatcher calls them.
#ifndef CT_SHIM_EXPORTS_H
#define CT_SHIM_EXPORTS_H

#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

// shim.c
EXPORT int ct_memfd_secret(unsigned int flags);
EXPORT int ct_ftruncate(int fd, uint64_t len);
EXPORT int ct_close(int fd);
EXPORT int ct_mmap(uint64_t addr, uint64_t len, int prot, int flags, int fd,
                   uint64_t off, uint64_t *out);
EXPORT int ct_munmap(uint64_t addr, uint64_t len);
EXPORT int ct_mlock(uint64_t addr, uint64_t len);
EXPORT int ct_madvise(uint64_t addr, uint64_t len, int advice);
EXPORT int ct_get_dumpable(void);
EXPORT int ct_find_tracer(int32_t *tid);
EXPORT int ct_set_dumpable(int on);
EXPORT int ct_get_core_limit(uint64_t *out);
EXPORT int ct_set_core_limit(uint64_t soft, uint64_t hard);
EXPORT int ct_explicit_bzero(uint64_t addr, uint64_t len);
EXPORT int ct_copy_in(uint64_t dst, const void *src, uint64_t len);
EXPORT int ct_memeq(uint64_t a, const void *b, uint64_t len);
EXPORT int ct_page_size(void);
EXPORT int64_t ct_read_self(uint64_t addr, void *buf, uint64_t len);
EXPORT int ct_access(const char *path, int mode);
EXPORT int64_t ct_read_file(const char *path, uint8_t *buf, uint64_t cap);
EXPORT int ct_region_map(int kind, uint64_t size, uint64_t *out);

// handover.c
EXPORT int ct_capture_signals(void);
EXPORT int ct_claim_signals(void);
EXPORT int ct_foreign_signals(void);
EXPORT int ct_pending_signals(void);
EXPORT int ct_wait_signals(void);
EXPORT int ct_wake_signals(void);
EXPORT int ct_hand_over(const uint8_t *exe, uint64_t exe_len, uint64_t region,
                        uint64_t size, int memfd, const char *delivery,
                        const char *args, uint64_t args_len, const char *env,
                        uint64_t env_len, int32_t stop_mask, uint64_t token,
                        uint64_t token_size, int token_memfd,
                        const uint8_t *config, uint64_t config_len,
                        const uint8_t *prog_args, uint64_t prog_args_len,
                        const char *extra, uint64_t extra_len, int32_t *step);

// http.c
EXPORT int ct_http_new(uint32_t flags, uint64_t *out);
EXPORT int ct_http_ca(uint64_t hp, const uint8_t *pem, uint64_t len);
EXPORT int ct_http_client_pair(uint64_t hp, const uint8_t *cert,
                               uint64_t cert_len, const uint8_t *key,
                               uint64_t key_len);
EXPORT int ct_http_target(uint64_t hp, const char *host, const char *port,
                          const char *name);
EXPORT int ct_http_exchange(uint64_t hp, const uint8_t *head,
                            uint64_t head_len, const uint8_t *token,
                            uint64_t token_len, const uint8_t *tail,
                            uint64_t tail_len, uint32_t timeout_ms);
EXPORT uint64_t ct_http_body_len(uint64_t hp);
EXPORT int ct_http_body(uint64_t hp, uint8_t *out, uint64_t cap);
EXPORT int ct_http_text(uint64_t hp, uint32_t what, uint8_t *out,
                        uint64_t cap);
EXPORT int ct_http_cancel(uint64_t hp);
EXPORT void ct_http_free(uint64_t hp);
EXPORT int ct_http_warm(void);
EXPORT int ct_http_forget_key(uint64_t hp);

// enforcer.c
EXPORT int ct_enforcer_register(const char *path, uint32_t timeout_ms,
                                uint8_t *out, uint64_t cap);

// sdk.c
EXPORT int64_t ct_fd_size(int fd);

// call.c
EXPORT int64_t ct_call(uint32_t op, const int64_t *a);

#endif
