// The supervisor's resident copy of the secret region: mapped read-only
// between two PROT_NONE guard pages, its canary and records checked before
// the app starts, measured from /proc/self/smaps, wiped at exit.
//
//   reservation (PROT_NONE, private)
//   +------------+---------------------------------------------+------------+
//   | guard page | data pages: the region file, PROT_READ,     | guard page |
//   | ---p       | MAP_SHARED; header ... records ... canary   | ---p       |
//   +------------+---------------------------------------------+------------+
//                ^ data                              data + span ^
//
// A stray write into the data faults (read-only), one that runs off either
// end faults (guard pages); a write that reached the file through another
// mapping (the app's, in fd delivery) breaks the canary, checked again at the
// wipe.
#ifndef CT_SUPERVISOR_REGION_H
#define CT_SUPERVISOR_REGION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../sdk/cloudtaser.h"

struct region {
  const unsigned char *data; // offset 0 of the file; NULL when not mapped
  size_t size;               // data size (the file's)
  size_t span;               // data pages: size rounded up to a page
  void *map;                 // the reservation: guard, data pages, guard
  size_t map_len;
  cloudtaser_secrets parsed; // records, count, flags (cloudtaser.h)
};

// What /proc/self/smaps says about the mapping and its neighbours.
struct resident {
  char path[64];     // "/secretmem (deleted)", "/memfd:... (deleted)"
  char perms[5];     // "r--s"
  char before[5];    // perms of the VMA ending at data, "" if none
  char after[5];     // perms of the VMA starting at data + span, "" if none
  bool locked;       // VmFlags lo
  bool dontdump;     // VmFlags dd
  bool canary;       // the two canary copies are equal
};

// Maps the region behind fd read-only between guard pages, checks the
// header, canary and records, excludes it from core dumps and locks a memfd
// fallback. On failure says why and returns -1 with *r unmapped.
int region_map(int fd, struct region *r);

// Measures the mapping from /proc/self/smaps. Returns 0, or -1 (said why).
int region_measure(const struct region *r, struct resident *m);

// Fails closed (-1, said why) unless the mapping is read-only, between
// PROT_NONE pages, excluded from dumps, with an intact canary.
int region_require(const struct resident *m);

// Appends the JSON members describing m to buf (see say_with).
size_t region_fields(const struct resident *m, char *buf, size_t at,
                     size_t cap);

// Reads a text file line by line without stdio (the supervisor's resident
// size: musl's scanf and FILE would add about 16 kB of code).
struct line_reader {
  int fd;
  size_t len, off;
  char buf[1024];
};

// Opens path; -1 (errno set) on failure.
int lines_open(struct line_reader *r, const char *path);

// The next line without its newline, truncated to cap - 1 bytes; false at
// the end. Closes the file there.
bool lines_next(struct line_reader *r, char *out, size_t cap);

// True while the canary's two copies are equal.
bool region_canary_intact(const struct region *r);

// Writes src's records, count and flags into r in place under the
// generation seqlock (docs/refresh.md "signal:NAME"): the generation at
// CLOUDTASER_OFF_GENERATION is odd while the bytes change and even (two
// more) after. Returns the new generation, or -1 when src's records do not
// fit r (nothing written) or the mapping cannot be made writable.
long region_write_in_place(struct region *r, const struct region *src);

// Checks the canary (an error line when broken), zeroes every byte and
// unmaps the reservation. Idempotent.
void region_wipe(struct region *r);

#endif
