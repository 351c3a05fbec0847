// The writer's half of the secret region's layout (c/sdk/cloudtaser.h has
// the layout and the reader): for C code that builds a region, the
// interposer's child copies (c/interposer/child_env.c) and the test
// launcher (c/testhelpers/region_exec.c). The wrapper's own writer is
// src/region/secret_region.ts.
#ifndef CT_REGION_WRITE_H
#define CT_REGION_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cloudtaser.h"

// The data size of a region holding records_len bytes of records: header,
// records, canary, rounded up to a page; 0 when that exceeds the format's
// limit (CLOUDTASER_MAX_SIZE).
static inline size_t ct_region_size(size_t records_len, size_t page) {
  size_t raw = CLOUDTASER_HEADER_SIZE + CLOUDTASER_CANARY_SIZE;
  if (records_len > CLOUDTASER_MAX_SIZE - raw) return 0;
  size_t size = (raw + records_len + page - 1) / page * page;
  return size > CLOUDTASER_MAX_SIZE ? 0 : size;
}

static inline void ct__put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

// Writes the header and both canary copies of a zero-filled region of
// `size` bytes at m whose records (count of them, records_len bytes) are
// already at m + CLOUDTASER_HEADER_SIZE.
static inline void ct_region_seal(unsigned char *m, size_t size,
                                  uint32_t records_len, uint32_t count,
                                  uint32_t flags,
                                  const unsigned char *canary) {
  memcpy(m, CLOUDTASER_MAGIC, 8);
  ct__put32(m + CLOUDTASER_OFF_RECORDS_OFFSET, CLOUDTASER_HEADER_SIZE);
  ct__put32(m + CLOUDTASER_OFF_RECORDS_LENGTH, records_len);
  ct__put32(m + CLOUDTASER_OFF_RECORD_COUNT, count);
  ct__put32(m + CLOUDTASER_OFF_DATA_SIZE, (uint32_t)size);
  ct__put32(m + CLOUDTASER_OFF_RESERVED, 0);
  ct__put32(m + CLOUDTASER_OFF_FLAGS, flags);
  memcpy(m + CLOUDTASER_OFF_CANARY, canary, CLOUDTASER_CANARY_SIZE);
  memcpy(m + size - CLOUDTASER_CANARY_SIZE, canary, CLOUDTASER_CANARY_SIZE);
}

// Overwrites a 32-bit header field (tests corrupt regions with it).
static inline void ct_region_put32(unsigned char *m, size_t off, uint32_t v) {
  ct__put32(m + off, v);
}

#endif
