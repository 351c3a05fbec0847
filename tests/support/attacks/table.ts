/** The matrix's rows (vector and target), columns (delivery, enforcer) and cells. */
import type { Windows } from "./windows.ts";

export type Mode = "env" | "interposer";
export type Target =
  | "wrapper"
  | "app"
  | "grandchild"
  | "sh_grandchild"
  | "static_grandchild"
  | "starting_registered"
  | "starting_fetched"
  | "refresh"
  | "refresh_supervisor"
  | "control";
/** `blocked`: no marker came out; `recovered`: markers came out; `allowed`:
 * a step that reveals nothing by itself succeeded (a coredump_filter write);
 * `n/a`: the vector does not apply (no region in that process). */
export type Outcome = "blocked" | "recovered" | "allowed" | "n/a";

/** One column of the table. */
export interface Column {
  mode: Mode;
  enforcer: boolean;
}

/** The rows, in table order: a vector and the process it is aimed at. */
export const ROWS = [
  { id: "environ", target: "wrapper", label: "read /proc/<pid>/environ" },
  { id: "environ", target: "app", label: "read /proc/<pid>/environ" },
  { id: "environ", target: "grandchild", label: "read /proc/<pid>/environ" },
  { id: "mem", target: "wrapper", label: "read /proc/<pid>/mem at the region" },
  { id: "mem", target: "app", label: "read /proc/<pid>/mem at the region" },
  { id: "scan", target: "wrapper", label: "scan every readable mapping" },
  { id: "scan", target: "app", label: "scan every readable mapping" },
  { id: "scan", target: "grandchild", label: "scan every readable mapping" },
  { id: "vm_readv", target: "wrapper", label: "process_vm_readv" },
  { id: "vm_readv", target: "app", label: "process_vm_readv" },
  { id: "ptrace", target: "wrapper", label: "ptrace attach + PEEKDATA" },
  { id: "ptrace", target: "app", label: "ptrace attach + PEEKDATA" },
  {
    id: "ptrace_inject",
    target: "wrapper",
    label:
      "ptrace syscall injection: the target writes its secretmem to a pipe",
  },
  {
    id: "ptrace_inject",
    target: "app",
    label:
      "ptrace syscall injection: the target writes its secretmem to a pipe",
  },
  { id: "getfd", target: "wrapper", label: "pidfd_getfd every fd" },
  { id: "getfd", target: "app", label: "pidfd_getfd every fd" },
  { id: "reopen", target: "wrapper", label: "reopen /proc/<pid>/fd/N" },
  { id: "reopen", target: "app", label: "reopen /proc/<pid>/fd/N" },
  { id: "map_files", target: "wrapper", label: "open /proc/<pid>/map_files/*" },
  { id: "map_files", target: "app", label: "open /proc/<pid>/map_files/*" },
  {
    id: "coredump_filter",
    target: "wrapper",
    label: "write /proc/<pid>/coredump_filter",
  },
  {
    id: "coredump_filter",
    target: "app",
    label: "write /proc/<pid>/coredump_filter",
  },
  { id: "core_segv", target: "wrapper", label: "core dump (SIGSEGV)" },
  { id: "core_segv", target: "app", label: "core dump (SIGSEGV)" },
  {
    id: "core_pipe",
    target: "wrapper",
    label: "core dump to a pipe (SIGABRT)",
  },
  { id: "core_pipe", target: "app", label: "core dump to a pipe (SIGABRT)" },
  {
    id: "core_escalated",
    target: "wrapper",
    label: "core dump, escalated (SIGSEGV)",
  },
  {
    id: "core_escalated",
    target: "app",
    label: "core dump, escalated (SIGSEGV)",
  },
  // Programs the app starts (issue 11, item 4): exec'd directly, through
  // /bin/sh -c (popen), and a static one that cannot load the interposer.
  {
    id: "mem",
    target: "grandchild",
    label: "read /proc/<pid>/mem at the region",
  },
  { id: "environ", target: "sh_grandchild", label: "read /proc/<pid>/environ" },
  { id: "scan", target: "sh_grandchild", label: "scan every readable mapping" },
  {
    id: "environ",
    target: "static_grandchild",
    label: "read /proc/<pid>/environ",
  },
  {
    id: "scan",
    target: "static_grandchild",
    label: "scan every readable mapping",
  },
  // The resident mapping (item 5), as /proc/<pid>/maps shows it.
  {
    id: "layout",
    target: "wrapper",
    label: "region mapping: read-only, PROT_NONE on both sides",
  },
  {
    id: "layout",
    target: "app",
    label: "region mapping: read-only, PROT_NONE on both sides",
  },
  // Cores that RLIMIT_CORE 1/1 does not stop (item 6), and one it does.
  {
    id: "core_lowered",
    target: "wrapper",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_lowered",
    target: "app",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_lowered",
    target: "grandchild",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_lowered",
    target: "sh_grandchild",
    label: "core dump to a pipe, soft RLIMIT_CORE lowered to 0 (SIGABRT)",
  },
  {
    id: "core_socket",
    target: "wrapper",
    label: "core dump to a socket core_pattern (SIGABRT)",
  },
  {
    id: "core_socket",
    target: "app",
    label: "core dump to a socket core_pattern (SIGABRT)",
  },
  {
    id: "core_socket",
    target: "grandchild",
    label: "core dump to a socket core_pattern (SIGABRT)",
  },
  {
    id: "core_own",
    target: "app",
    label: "the app's own crash, core to a pipe (abort)",
  },
  // The start-up window (holes 1-3): the Deno wrapper frozen with SIGSTOP
  // right after a log line of its start-up, before the hand-over.
  ...startingRows("starting_registered"),
  ...startingRows("starting_fetched"),
  // In the middle of a refresh (issue 14): the refresh process and the
  // supervisor while a server that never answers holds the refresh.
  ...refreshRows("refresh"),
  ...refreshRows("refresh_supervisor"),
  // Positive controls for the vectors above: an unregistered process that
  // holds what they look for (a memfd_secret fd, a valid token).
  { id: "stop", target: "control", label: "freeze with SIGSTOP" },
  {
    id: "getfd",
    target: "control",
    label: "pidfd_getfd every fd (a memfd_secret fd held open)",
  },
  {
    id: "tokens",
    target: "control",
    label: "token-shaped strings tried against OpenBao (a valid one held)",
  },
] as const satisfies readonly { id: string; target: Target; label: string }[];

/** The rows of one freeze point of the start-up window. */
function startingRows<T extends "starting_registered" | "starting_fetched">(
  target: T,
) {
  return [
    { id: "stop", target, label: "freeze with SIGSTOP" },
    { id: "scan", target, label: "scan every readable mapping" },
    { id: "vm_readv", target, label: "process_vm_readv" },
    { id: "getfd", target, label: "pidfd_getfd every fd (0-255)" },
    {
      id: "tokens",
      target,
      label: "token-shaped strings tried against OpenBao",
    },
  ] as const;
}

/** The rows of one process of a held refresh (refreshing.ts). */
function refreshRows<T extends "refresh" | "refresh_supervisor">(target: T) {
  return [
    { id: "environ", target, label: "read /proc/<pid>/environ" },
    { id: "scan", target, label: "scan every readable mapping" },
    { id: "vm_readv", target, label: "process_vm_readv" },
    { id: "ptrace", target, label: "ptrace attach + PEEKDATA" },
    {
      id: "ptrace_inject",
      target,
      label:
        "ptrace syscall injection: the target writes its secretmem to a pipe",
    },
    { id: "getfd", target, label: "pidfd_getfd every fd (0-255)" },
    { id: "reopen", target, label: "reopen /proc/<pid>/fd/N (0-31)" },
    { id: "map_files", target, label: "open /proc/<pid>/map_files/*" },
    {
      id: "tokens",
      target,
      label: "token-shaped strings tried against OpenBao (the token is valid)",
    },
  ] as const;
}

export type VectorId = (typeof ROWS)[number]["id"];

/** One measured cell. */
export interface Cell {
  vector: VectorId;
  target: Target;
  mode: Mode;
  enforcer: boolean;
  result: Outcome;
  /** Markers found (0 unless recovered). */
  hits: number;
  /** One line for the table: the error, the kill, or where markers were. */
  short: string;
  /** What each attempt got: errors, kills, where markers were. */
  detail: string;
}

export type Judged = Pick<Cell, "result" | "hits" | "short" | "detail">;

/** Everything `docs/security.md` is made from. */
export interface MatrixReport {
  /** The start-up windows of hole 1 (windows.ts). */
  windows?: Windows;
  date: string;
  kernel: string;
  /** The enforcer's tier as its ready line said (`tracepoint-kill`, `lsm`). */
  tier: string;
  lsmUnavailable?: string;
  cells: Cell[];
  durationMs: number;
  /** What the app reported about its keys, per mode (where getenv points). */
  appKeys: Record<Mode, string>;
}

export interface MatrixOptions {
  /** Progress lines (never a value). */
  log?: (line: string) => void;
  /** Columns to run. @default all four */
  columns?: Column[];
}

/** Every column: both deliveries, without and with the enforcer. */
export const ALL_COLUMNS: Column[] = [
  { mode: "env", enforcer: false },
  { mode: "interposer", enforcer: false },
  { mode: "env", enforcer: true },
  { mode: "interposer", enforcer: true },
];
