// The call a shim export failed in, as the value it stores in its step
// out-parameter (ct_hand_over in c/shim/handover.c, ct_region_map in
// c/shim/shim.c), with the name the TypeScript side gives the call in its
// SyscallError. Value 0 is no step.
// TypeScript: ffi/constants.ts SHIM_STEPS, indexed by this value
// (tests/ffi/constants_test.ts holds the two equal).
#ifndef CT_SHIM_STEPS_H
#define CT_SHIM_STEPS_H

#define CT_SHIM_STEPS(X)                                                       \
  X(CT_STEP_ARGS, "handOver")     /* malformed buffers (EINVAL) */             \
  X(CT_STEP_MEMFD, "memfd_create") /* the supervisor's sealed memfd */         \
  X(CT_STEP_WRITE, "write")                                                    \
  X(CT_STEP_SEAL, "fcntl(F_ADD_SEALS)")                                        \
  X(CT_STEP_SIGMASK, "pthread_sigmask")                                        \
  X(CT_STEP_CLOEXEC, "fcntl(F_SETFD)")                                         \
  X(CT_STEP_EXEC, "execveat")                                                  \
  X(CT_STEP_STOPPED, "handOver (a stopping signal came first)")                \
  /* a region file: memfd_create where the region is the memfd fallback */     \
  X(CT_STEP_REGION, "memfd_secret")                                            \
  X(CT_STEP_REGION_SIZE, "ftruncate")                                          \
  X(CT_STEP_REGION_MAP, "mmap")                                                \
  /* the wrapper's program for refresh processes (docs/refresh.md) */         \
  X(CT_STEP_PROGRAM, "open(/proc/self/exe)")

#define CT__STEP_ENUM(id, call) id,
enum ct_shim_step { CT_STEP_NONE, CT_SHIM_STEPS(CT__STEP_ENUM) };
#undef CT__STEP_ENUM

#endif
