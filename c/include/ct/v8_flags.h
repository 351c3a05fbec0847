// The V8 flags every start of the wrapper's Deno gets (c/launcher runs
// `deno run <flags> ... main.js`; scripts/compile.ts embeds them in the
// compiled binary). A young generation that starts at 8 MB: a start
// allocates a few MB and exits (exec) within 100 ms, and the scavenges the
// default 1 MB start triggered cost 8-10 ms of CPU and 10-13 ms per start
// (31 interleaved runs against the same bundle; 8, 16 and 32 MB the same).
// TypeScript: ffi/constants.ts V8_FLAGS (tests/ffi/constants_test.ts holds
// the two equal).
#ifndef CT_V8_FLAGS_H
#define CT_V8_FLAGS_H

#define CT_V8_FLAGS "--v8-flags=--min-semi-space-size=8"

#endif
