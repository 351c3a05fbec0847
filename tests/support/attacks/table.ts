/** The matrix's rows (vector and target), columns (delivery, enforcer) and cells. */
export type Mode = "env" | "interposer";
export type Target =
  | "wrapper"
  | "app"
  | "grandchild"
  | "sh_grandchild"
  | "static_grandchild";
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
] as const satisfies readonly { id: string; target: Target; label: string }[];

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
