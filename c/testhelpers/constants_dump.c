// Prints, as one JSON object, every constant the C side shares with the
// TypeScript side, taken from the headers the C programs use
// (c/sdk/cloudtaser.h, c/include/ct/*.h, the libc's): tests/ffi/
// constants_test.ts compares it with src/region/format.ts,
// ffi/constants.ts and src/log.ts.
//
//   constants_dump                   the constants
//   constants_dump log LEVEL MSG     one log line (ct/log_line.h, JSON) on
//                                    stdout, for LEVEL info|warning|error
//   constants_dump region FLAGS K=V...  a region written by
//                                    ct/region_write.h, as hex on stdout
//   constants_dump parse < REGION    what cloudtaser_parse reads in a region
//                                    (raw bytes on stdin): count, flags,
//                                    reserved field, records' keys and value
//                                    lengths
// Only test values pass through it, never a secret.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cloudtaser.h"
#include "ct/delivery.h"
#include "ct/errname.h"
#include "ct/exit_codes.h"
#include "ct/calls.h"
#include "ct/http.h"
#include "ct/v8_flags.h"
#include "ct/log_line.h"
#include "ct/refresh.h"
#include "ct/region_write.h"
#include "ct/shim_steps.h"
#include "ct/signals.h"

static const char *sep(int *first) {
  const char *s = *first ? "" : ",";
  *first = 0;
  return s;
}

static void region_constants(void) {
  printf("\"region\":{\"magic\":\"%s\",\"header_size\":%u,\"canary_size\":%u,"
         "\"off_records_offset\":%u,\"off_records_length\":%u,"
         "\"off_record_count\":%u,\"off_data_size\":%u,\"off_reserved\":%u,"
         "\"off_generation\":%u,"
         "\"off_flags\":%u,\"off_canary\":%u,\"max_size\":%u,\"fd_env\":\"%s\","
         "\"flags\":{\"CHILD_ENV_FALLBACK\":%u,\"APP_CORE_DUMPS\":%u,"
         "\"ALLOW_TRACER\":%u}}",
         CLOUDTASER_MAGIC, CLOUDTASER_HEADER_SIZE, CLOUDTASER_CANARY_SIZE,
         CLOUDTASER_OFF_RECORDS_OFFSET, CLOUDTASER_OFF_RECORDS_LENGTH,
         CLOUDTASER_OFF_RECORD_COUNT, CLOUDTASER_OFF_DATA_SIZE,
         CLOUDTASER_OFF_RESERVED, CLOUDTASER_OFF_GENERATION,
         CLOUDTASER_OFF_FLAGS, CLOUDTASER_OFF_CANARY,
         CLOUDTASER_MAX_SIZE, CLOUDTASER_FD_ENV,
         CLOUDTASER_FLAG_CHILD_ENV_FALLBACK, CLOUDTASER_FLAG_APP_CORE_DUMPS,
         CLOUDTASER_FLAG_ALLOW_TRACER);
}

// The refresh protocol (ct/refresh.h).
static void refresh_constants(void) {
  int first = 1;
  printf(",\"refresh\":{\"fds\":{");
#define RFD(id, fd, flag) printf("%s\"%s\":%d", sep(&first), flag, fd);
  CT_REFRESH_FDS(RFD)
#undef RFD
  first = 1;
  printf("},\"report_keys\":[");
#define KEY(id, key) printf("%s\"%s\"", sep(&first), key);
  CT_REPORT_KEYS(KEY)
#undef KEY
  printf("],\"mode\":\"%s\",\"op_due\":\"%s\",\"op_revoke\":\"%s\","
         "\"path\":\"%s\",\"report_max\":%d,\"state_max\":%d,"
         "\"retry_max_ms\":%d}",
         CT_REFRESH_MODE, CT_REFRESH_OP_DUE, CT_REFRESH_OP_REVOKE,
         CT_REFRESH_PATH, CT_REPORT_MAX, CT_STATE_MAX, CT_RETRY_MAX_MS);
}

static void shared_constants(void) {
  int first = 1;
  printf(",\"deliveries\":[");
#define DELIVERY(id, name) printf("%s\"%s\"", sep(&first), name);
  CT_DELIVERIES(DELIVERY)
#undef DELIVERY
  first = 1;
  printf("],\"signals\":[");
  for (size_t i = 0; i < CT_N_FORWARDED; i++)
    printf("%s{\"name\":\"%s\",\"number\":%d}", sep(&first),
           ct_signal_name(ct_forwarded_signals[i]), ct_forwarded_signals[i]);
  first = 1;
  printf("],\"shim_steps\":[{\"value\":%d,\"call\":\"\"}", CT_STEP_NONE);
#define STEP(id, call) printf(",{\"value\":%d,\"call\":\"%s\"}", id, call);
  CT_SHIM_STEPS(STEP)
#undef STEP
  printf("],\"http\":{\"failures\":[{\"value\":%d,\"name\":\"\"}", CT_HTTP_OK);
#define FAILURE(id, name) printf(",{\"value\":%d,\"name\":\"%s\"}", id, name);
  CT_HTTP_FAILURES(FAILURE)
#undef FAILURE
  printf("],\"plain\":%u,\"skip_verify\":%u,\"pair\":[0,%d,%d,%d]}",
         CT_HTTP_PLAIN, CT_HTTP_SKIP_VERIFY, CT_HTTP_PAIR_CERT, CT_HTTP_PAIR_KEY,
         CT_HTTP_PAIR_MISMATCH);
  printf(",\"v8_flags\":\"%s\"", CT_V8_FLAGS);
  printf(",\"calls\":[\"\"");
#define CALL(name) printf(",\"%s\"", #name);
  CT_CALLS(CALL)
#undef CALL
  printf("],\"exit\":{");
#define EXIT(id, code)                                                         \
  printf("%s\"%s\":%d", sep(&first), #id + sizeof "CT_EXIT_" - 1, code);
  CT_EXIT_CODES(EXIT)
#undef EXIT
  first = 1;
  printf("},\"errnos\":{");
#define ERRNO(name) printf("%s\"%d\":\"%s\"", sep(&first), name, #name);
  CT_ERRNOS(ERRNO)
#undef ERRNO
  first = 1;
  printf("},\"errname\":{");
  for (int e = 0; e < 134; e++) {
    char buf[24];
    printf("%s\"%d\":\"%s\"", sep(&first), e, ct_errname_in(e, buf, sizeof buf));
  }
  first = 1;
  printf("},\"log_levels\":[");
#define LEVEL(id, name) printf("%s\"%s\"", sep(&first), name);
  CT_LOG_LEVELS(LEVEL)
#undef LEVEL
  printf("]");
}

// The Linux values ffi/constants.ts passes through the FFI.
static void linux_constants(void) {
  printf(",\"linux\":{\"PROT\":{\"NONE\":%d,\"READ\":%d,\"WRITE\":%d},"
         "\"MAP\":{\"SHARED\":%d,\"PRIVATE\":%d,\"FIXED\":%d,"
         "\"ANONYMOUS\":%d,\"NORESERVE\":%d},"
         "\"MADV\":{\"DONTDUMP\":%d,\"DODUMP\":%d,\"WIPEONFORK\":%d},"
         "\"O_CLOEXEC\":%d,\"ACCESS\":{\"X_OK\":%d,\"W_OK\":%d,\"R_OK\":%d},"
         "\"RLIM_INFINITY\":\"%llu\"}",
         PROT_NONE, PROT_READ, PROT_WRITE, MAP_SHARED, MAP_PRIVATE, MAP_FIXED,
         MAP_ANONYMOUS, MAP_NORESERVE, MADV_DONTDUMP, MADV_DODUMP,
         MADV_WIPEONFORK, O_CLOEXEC, X_OK, W_OK, R_OK,
         (unsigned long long)RLIM_INFINITY);
}

static int log_line(const char *level, const char *msg) {
  enum ct_level l = CT_INFO;
#define MATCH(id, name)                                                        \
  if (strcmp(level, name) == 0) l = id;
  CT_LOG_LEVELS(MATCH)
#undef MATCH
  char buf[2048];
  size_t n = ct_log_format(buf, sizeof buf, true, "constants_dump", l,
                           "\"extra\":true", msg);
  fwrite(buf, 1, n, stdout);
  return 0;
}

// A region of one page holding argv's KEY=VALUE records, as hex.
static int region(int argc, char **argv) {
  static unsigned char m[4096];
  uint32_t flags = (uint32_t)strtoul(argv[0], NULL, 0), count = 0;
  size_t w = CLOUDTASER_HEADER_SIZE;
  for (int i = 1; i < argc; i++) {
    size_t len = strlen(argv[i]) + 1;
    if (w + len > sizeof m - CLOUDTASER_CANARY_SIZE) return 2;
    memcpy(m + w, argv[i], len);
    w += len;
    count++;
  }
  const unsigned char canary[CLOUDTASER_CANARY_SIZE] = "0123456789abcdef";
  size_t size = ct_region_size(w - CLOUDTASER_HEADER_SIZE, sizeof m);
  ct_region_seal(m, size, (uint32_t)(w - CLOUDTASER_HEADER_SIZE), count,
                 flags, canary);
  for (size_t i = 0; i < size; i++) printf("%02x", m[i]);
  printf("\n");
  return 0;
}

static int parse(void) {
  size_t cap = 1 << 20, n = 0;
  char *data = malloc(cap);
  ssize_t got;
  while (data && n < cap && (got = read(STDIN_FILENO, data + n, cap - n)) > 0)
    n += (size_t)got;
  cloudtaser_secrets s;
  int rc = data ? cloudtaser_parse(data, n, &s) : -ENOMEM;
  if (rc < 0) {
    char buf[24];
    printf("{\"error\":\"%s\"}\n", ct_errname_in(-rc, buf, sizeof buf));
    return 1;
  }
  uint32_t reserved;
  memcpy(&reserved, data + CLOUDTASER_OFF_RESERVED, 4);
  printf("{\"count\":%u,\"flags\":%u,\"reserved\":%u,\"records\":[", s.count,
         s.flags, reserved);
  size_t cur = 0;
  cloudtaser_record r;
  int first = 1;
  while (cloudtaser_next(&s, &cur, &r))
    printf("%s{\"key\":\"%.*s\",\"value_length\":%zu}", sep(&first),
           (int)r.key_len, r.key, r.value_len);
  printf("]}\n");
  free(data);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "log") == 0) return log_line(argv[2], argv[3]);
  if (argc >= 3 && strcmp(argv[1], "region") == 0)
    return region(argc - 2, argv + 2);
  if (argc == 2 && strcmp(argv[1], "parse") == 0) return parse();
  if (argc != 1) {
    fprintf(stderr, "usage: constants_dump [log LEVEL MSG | region FLAGS "
                    "K=V... | parse < REGION]\n");
    return 2;
  }
  printf("{");
  region_constants();
  shared_constants();
  refresh_constants();
  linux_constants();
  printf("}\n");
  return 0;
}
