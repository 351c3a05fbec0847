/**
 * The start-up window's section of `docs/security.md` (issue 11, holes
 * 1-3): the measured windows, what a frozen wrapper holds, the token
 * check, and what each enforcer tier closes. Written from the report's
 * cells and windows; counts only.
 */
import { spread } from "./windows.ts";
import type { Cell, MatrixReport, Target, VectorId } from "./table.ts";

function cell(
  r: MatrixReport,
  target: Target,
  vector: VectorId,
  enforcer: boolean,
  mode = "env",
): Cell | undefined {
  return r.cells.find((c) =>
    c.target === target && c.vector === vector && c.enforcer === enforcer &&
    c.mode === mode
  );
}

/** The copies per secret and mapping a scan found, from its detail. */
function copies(c: Cell | undefined): string {
  if (!c) return "not run";
  if (c.result !== "recovered") return `none (${c.short})`;
  return c.detail.split("; ").filter((d) => / [1-9]\d* markers/.test(d))
    .map((d) => d.replace(/: \d+ bytes read, /, ": ")).join("; ");
}

/** The section, as lines of Markdown. */
export function renderStartUp(r: MatrixReport): string[] {
  const out: string[] = [];
  const p = (s = "") => out.push(s);
  const w = r.windows;
  p("## The start-up window");
  p();
  p(
    "Before the hand-over the wrapper is a Deno process: the rows " +
      '"wrapper starting" freeze the real wrapper with `SIGSTOP` (sent by ' +
      "`ct-signal`, a process of its own) at two points and attack it " +
      "while frozen. At registration: without the enforcer the harness " +
      "plays a silent enforcer that accepts the registration and never " +
      "answers, so the freeze lands while the wrapper waits, before any " +
      "region, credential file or token (a log line would come a few " +
      "milliseconds late: by then the region exists and the client key " +
      'has been read); with the enforcer, right after its "registered" ' +
      'line. After the reads: right after the "secrets fetched" line ' +
      "(every value in the region, the client key dropped, the token's " +
      "revocation sent, before the delivery is chosen and the hand-over " +
      "made). The harness checks " +
      "`/proc/<pid>/comm` that the frozen process is still `deno`, not " +
      "the supervisor, and retries a freeze that came too late.",
  );
  p();
  p("### The two windows of hole 1, measured");
  p();
  if (w) {
    p(
      `Measured in ${w.runs} starts of the real wrapper (\`-- /bin/true\`, ` +
        "the matrix's two paths) under `perf trace -e " +
        "connect,memfd_secret,close,execveat` (the kernel's syscall " +
        "tracepoints: no ptrace tracer, which the wrapper refuses unless " +
        "`CLOUDTASER_ALLOW_TRACER` is set); only those calls are traced, " +
        "the ones between " +
        "them (ftruncate, mmap, the copy) run at full speed, so these are " +
        "upper bounds (`tests/support/attacks/windows.ts`)" +
        (w.failed.length
          ? `; ${w.failed.length} runs failed (${
            [...new Set(w.failed)].join("; ")
          })`
          : "") +
        ".",
    );
    p();
    p(
      `- A region fd (the secrets' region and the token's), from ` +
        `\`memfd_secret\` to its \`close\`: ${spread(w.regionFdUs)}. ` +
        "Nothing but ftruncate and two mmaps runs on its thread in between " +
        "(`tests/wrapper/startup_order_test.ts` proves it from a full " +
        "trace).",
    );
    p(
      `- The hand-over's copy, from its \`memfd_secret\` to the ` +
        `\`execveat\` of the supervisor: ${spread(w.handOverUs)}; and on ` +
        "through the exec to the supervisor's `close` of it once mapped " +
        `(the fd's whole life): ${spread(w.handOverClosedUs)}. It is ` +
        "made inside `ct_hand_over` with every signal blocked, filled a " +
        "page at a time, and crosses the exec as the supervisor's only " +
        "region fd. (Before issue 11 the exported copy lived 14-61 ms.)",
    );
    p(
      `- The wrapper asked the enforcer before its first region in ` +
        `${w.registeredFirst} of ${w.runs} runs (\`connect\` before the ` +
        "first `memfd_secret`).",
    );
  } else {
    p("- not measured in this run");
  }
  p(
    "- A root loop of `pidfd_getfd` can still hit these windows, and " +
      "`SIGSTOP` stretches any of them: only the enforcer closes them " +
      "(below).",
  );
  p();
  p("### What a frozen wrapper holds (holes 2 and 3)");
  p();
  const reg = cell(r, "starting_registered", "scan", false);
  const fetched = cell(r, "starting_fetched", "scan", false);
  const fetchedI = cell(r, "starting_fetched", "scan", false, "interposer");
  p(
    `- At registration, without the enforcer: ${
      reg
        ? reg.result === "blocked"
          ? "no marker in any readable mapping (nothing secret exists yet)"
          : `**${reg.short}**`
        : "not run"
    }.`,
  );
  p(
    "- Right after the reads, without the enforcer (a scan of every " +
      "readable mapping through `/proc/<pid>/mem`; the region itself " +
      `gives EIO), per mapping and secret: env column ${copies(fetched)}; ` +
      `interposer column ${copies(fetchedI)}. The requests run in the ` +
      "shim's OpenSSL client (c/shim/http.c): the token is read from its " +
      "region only to be joined with a request after the handshake and " +
      "wiped after the write, each answer is zeroed once decoded into the " +
      "region, the client key's file is read with read(2) into a buffer " +
      "wiped once OpenSSL parsed it, OpenSSL drops the key itself once the " +
      "reads are in, and every buffer OpenSSL frees is zeroed. (With " +
      "Deno's `readFileSync` a freed copy of the key's PEM stayed in the " +
      "malloc heap until reused: this row found it once the start got " +
      "faster, tests/vault/credential_file_test.ts holds it; with Deno's " +
      "fetch, freed rustls " +
      "and hyper buffers held DB_PASSWORD x3, API_KEY x2 and the client " +
      "key here; the design said `expected`.) A frozen wrapper still " +
      "holds its regions, which give EIO; only the enforcer keeps root " +
      "from injecting syscalls.",
  );
  const tok = cell(r, "starting_fetched", "tokens", false);
  const ctlTok = cell(r, "control", "tokens", false);
  p(
    "- The token (hole 3): every token-shaped string (`s.` + 24) in the " +
      "frozen wrapper's memory is tried against OpenBao " +
      `(\`auth/token/lookup-self\`): after the reads ${
        tok?.short ?? "not run"
      } (the login token's \`auth/token/revoke-self\` goes out as soon ` +
      "as the reads are in; meanwhile the token is only in its region, and " +
      "the start waits for the answer before the score and the hand-over). " +
      "The control, " +
      `a process holding a freshly created token: ${
        ctlTok?.short ?? "not run"
      }.`,
  );
  const gf = cell(r, "starting_fetched", "getfd", false);
  const ctlFd = cell(r, "control", "getfd", false);
  p(
    "- `pidfd_getfd` of every fd (0-255) of the frozen wrapper: " +
      `${gf?.result ?? "not run"} (${
        gf?.short ?? ""
      }; no memfd_secret fd among them); the control's ` +
      `open memfd_secret fd: ${ctlFd?.short ?? "not run"}.`,
  );
  p();
  p("### What each enforcer tier closes in this window");
  p();
  const stopE = cell(r, "starting_fetched", "stop", true);
  p(
    `- Tracepoint tier (\`${r.tier}\`, this host): the wrapper registers ` +
      "before its first secret byte, so from then on a stop signal's " +
      "sender is killed and the stop undone (here: " +
      `${stopE?.short ?? "not run"}; the start goes on, so the attacks ` +
      "that follow meet the wrapper or, once it has handed over, the " +
      "supervisor, registered all the same), and every read of its " +
      "memory, `process_vm_readv` and `pidfd_getfd` kills the attacker. " +
      "The kill " +
      "comes after the syscall: a `pidfd_getfd` that lands inside one of " +
      "the windows above has already installed the fd, and a process " +
      "sharing the attacker's fd table (`clone(CLONE_FILES)`) keeps it " +
      "(`tests/enforcer/startup_window_test.ts`: a registered target's " +
      "region fd, open 300 ms; the lone attacker is killed and its fd " +
      "dies with it, the attacker with a sibling is killed and the " +
      "sibling reads the secret). Each attacker gets one try, and the " +
      "windows stay short; this tier does not close them.",
  );
  p(
    "- LSM tier (the VM test, `tests/enforcer/vm_test.ts`, Debian's " +
      "kernel under qemu): a target that registers (`ct-register`) and " +
      "only then creates its memfd_secret region, holding its fd open for " +
      "300 ms, is attacked by a `pidfd_getfd` loop over its fds that runs " +
      "from before the region exists until the target exits: every try " +
      "gets `EPERM` and nothing is stolen (the test counts the tries and " +
      "fails on one success), while the same loop steals the region fd " +
      "of an unregistered control and reads the secret. The stop signal " +
      "is refused there too (the VM test's signal rows).",
  );
  return out;
}
