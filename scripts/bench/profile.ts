/**
 * Where the wrapper's start-up time goes: runs profile_child.ts (the real
 * wrapper `main()` with stamps and timed requests) under ct-bench-launch, and
 * tls_probe.ts for the handshake's share of the first request. Medians of
 * each phase, ms.
 */
import type { Fixture, SecretSet } from "./contestants.ts";
import { DENO_RUN, PREFIX } from "./contestants.ts";
import { launchOnce } from "./launch.ts";
import { median } from "./stats.ts";
import { BUNDLE, bundleWrapper } from "../../tests/support/bundle.ts";

const HERE = new URL("./", import.meta.url).pathname;

/** One phase of the start-up, median ms. */
export interface Phase {
  phase: string;
  what: string;
  ms: number;
  /**
   * Median CPU time (user + system, every thread of the process) spent
   * during the phase; for "after the reads" it runs to the end of the
   * start, hand-over and the app's tiny run included; absent for the
   * hand-over (counted there).
   */
  cpuMs?: number;
}

/** The breakdown and the TLS probe. */
export interface Profile {
  set: string;
  runs: number;
  phases: Phase[];
  totalMs: number;
  /** Median CPU per start of the same runs (the launcher's getrusage). */
  totalCpuMs: number;
  tls: {
    firstMs: number;
    secondMs: number;
    loginWarmMs: number;
    readWarmMs: number;
  };
  /** curl, same server and client cert: TCP connect, TLS done, total. */
  curl: { connectMs: number; tlsMs: number; totalMs: number };
  failures: string[];
}

interface Marks {
  boot: number;
  ffi: number;
  modules: number;
  fetches: Array<
    { start: number; t: number; cpuStart: number; cpu: number; path: string }
  >;
  starting: number;
  /** The process's CPU time at each named mark, ms. */
  cpu: Record<string, number>;
}

function parseMarks(stderr: string): Marks | undefined {
  const m: Partial<Marks> = { fetches: [], cpu: {} };
  for (const line of stderr.split("\n")) {
    if (!line.startsWith("{")) continue;
    let j;
    try {
      j = JSON.parse(line);
    } catch {
      continue;
    }
    if (j.bench === "fetch") m.fetches!.push(j);
    else if (j.bench) {
      (m as Record<string, number>)[j.bench] = j.t;
      m.cpu![j.bench] = j.cpu;
    } else if (
      typeof j.message === "string" && j.message.startsWith("starting")
    ) {
      m.starting = Date.parse(j.time);
    }
  }
  if (!m.boot || !m.ffi || !m.modules || !m.starting || !m.fetches!.length) {
    return undefined;
  }
  return m as Marks;
}

/**
 * Profiles `runs` wrapper starts (env delivery) for `set`.
 *
 * @example
 * ```ts
 * const p = await profileWrapper(fx, set, 7);
 * for (const ph of p.phases) console.log(ph.phase, ph.ms);
 * ```
 */
export async function profileWrapper(
  fx: Fixture,
  set: SecretSet,
  runs = 7,
): Promise<Profile> {
  const cols: Record<string, number[]> = {};
  const push = (k: string, v: number) => (cols[k] ??= []).push(v);
  const failures: string[] = [];
  const stampFile = `${fx.dir}/stamp-profile`;
  // Bundled like the wrapper that ships (tests/support/bundle.ts), so the
  // phases are those of the bundle, module load included; in build/ beside
  // it, where the bundle's ffi finds the native libraries.
  const child = await bundleWrapper(
    BUNDLE.replace(/[^/]*$/, "bench-profile-child.js"),
    `${HERE}profile_child.ts`,
  );
  for (let i = 0; i < runs + 1; i++) {
    const r = await launchOnce({
      tools: fx.tools,
      argv: [
        ...DENO_RUN,
        child,
        "--",
        fx.tools.app,
        stampFile,
        PREFIX,
      ],
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        ...(Deno.env.get("HOME") ? { HOME: Deno.env.get("HOME")! } : {}),
        ...(Deno.env.get("DENO_DIR")
          ? { DENO_DIR: Deno.env.get("DENO_DIR")! }
          : {}),
        ...fx.bao.env({
          CLOUDTASER_SECRET_PATHS: set.apiPaths.join(","),
          CLOUDTASER_ENFORCER_SOCKET: fx.noEnforcer,
        }),
      },
      stampFile,
      timeoutMs: 60000,
    });
    const marks = parseMarks(r.stderr);
    if (!r.stamp || r.stamp.count !== set.count || !marks) {
      failures.push(
        `profile run: exit ${r.code}, ${
          r.stderr.trim().split("\n").slice(-1)[0]?.slice(0, 200)
        }`,
      );
      continue;
    }
    if (i === 0) continue; // warm-up
    // ms since the epoch, microsecond precision
    const app = Number(r.stamp.ns / 1000n) / 1000;
    const launched = app - r.startMs;
    const f = marks.fetches;
    push("boot", marks.boot - launched);
    push("ffi", marks.ffi - marks.boot);
    push("modules", marks.modules - marks.ffi);
    push("before", f[0].start - marks.modules);
    push("login", f[0].t - f[0].start);
    push("reads", f[f.length - 1].t - f[0].t);
    push("after", marks.starting - f[f.length - 1].t);
    push("handover", app - marks.starting);
    push("total", r.startMs);
    const last = f[f.length - 1];
    push("cpu:boot", marks.cpu.boot);
    push("cpu:ffi", marks.cpu.ffi - marks.cpu.boot);
    push("cpu:modules", marks.cpu.modules - marks.cpu.ffi);
    push("cpu:before", f[0].cpuStart - marks.cpu.modules);
    push("cpu:login", f[0].cpu - f[0].cpuStart);
    push("cpu:reads", last.cpu - f[0].cpu);
    // The launcher's getrusage covers the exec'd supervisor and the app.
    push("cpu:after", r.cpuMs - last.cpu);
    push("cpu:total", r.cpuMs);
  }
  const tls: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${HERE}tls_probe.ts`,
        fx.bao.addr,
        fx.bao.caCert,
        fx.bao.clientCert,
        fx.bao.clientKey,
        set.apiPaths[0],
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30000),
    }).output();
    if (!out.success) {
      failures.push(`tls probe: ${new TextDecoder().decode(out.stderr)}`);
      continue;
    }
    const j = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const k of Object.keys(j)) (tls[k] ??= []).push(j[k]);
  }
  const curl: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    const out = await new Deno.Command("curl", {
      args: [
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{time_connect} %{time_appconnect} %{time_total}",
        "--cacert",
        fx.bao.caCert,
        "--cert",
        fx.bao.clientCert,
        "--key",
        fx.bao.clientKey,
        `${fx.bao.addr}/v1/sys/health`,
      ],
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30000),
    }).output();
    const [c, a, t] = new TextDecoder().decode(out.stdout).split(" ")
      .map((x) => Number(x) * 1000);
    if (!out.success || Number.isNaN(t)) continue;
    (curl.connect ??= []).push(c);
    (curl.tls ??= []).push(a - c);
    (curl.total ??= []).push(t);
  }
  const med = (k: string) => median(cols[k] ?? []);
  const cpu = (k: string) => med(`cpu:${k}`);
  const n = `${set.apiPaths.length} path(s)`;
  return {
    set: `${set.count}/${set.paths}`,
    runs,
    phases: [
      {
        phase: "Deno boot",
        what: "exec of deno to the first statement",
        ms: med("boot"),
        cpuMs: cpu("boot"),
      },
      {
        phase: "FFI load + signal capture",
        what: "ffi/handover.ts: dlopen of the shim, signals blocked",
        ms: med("ffi"),
        cpuMs: cpu("ffi"),
      },
      {
        phase: "module load",
        what: "the rest of the bundle (LogTape, config, vault client)",
        ms: med("modules"),
        cpuMs: cpu("modules"),
      },
      {
        phase: "set-up before the first request",
        what: "config, hardening, enforcer probe, secret region, TLS files",
        ms: med("before"),
        cpuMs: cpu("before"),
      },
      {
        phase: "login (TCP + TLS handshake + cert login)",
        what: "first request: TCP connect, TLS handshake (OpenSSL in the " +
          "shim), POST auth/cert/login",
        ms: med("login"),
        cpuMs: cpu("login"),
      },
      {
        phase: "reads",
        what: `KV mount lookup + ${n}, revocation`,
        ms: med("reads"),
        cpuMs: cpu("reads"),
      },
      {
        phase: "after the reads",
        what: "delivery choice (ELF), child env, exec limits, environ " +
          "check, score (smaps, sysfs), logs (CPU: to the end, hand-over " +
          "and app included)",
        ms: med("after"),
        cpuMs: cpu("after"),
      },
      {
        phase: "hand-over",
        what: "exec of the supervisor from a memfd, fork + exec of the app",
        ms: med("handover"),
      },
    ],
    totalMs: med("total"),
    totalCpuMs: cpu("total"),
    tls: {
      firstMs: median(tls.firstMs ?? []),
      secondMs: median(tls.secondMs ?? []),
      loginWarmMs: median(tls.loginWarmMs ?? []),
      readWarmMs: median(tls.readWarmMs ?? []),
    },
    curl: {
      connectMs: median(curl.connect ?? []),
      tlsMs: median(curl.tls ?? []),
      totalMs: median(curl.total ?? []),
    },
    failures,
  };
}
