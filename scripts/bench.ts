/**
 * `deno task bench`: start-up, resident footprint, requests, a storm of
 * wrappers, getenv and open() costs, all in one run against one local
 * OpenBao (TLS, cert auth). Prints the tables and writes docs/benchmarks.md
 * and docs/benchmarks.svg.
 *
 * ```sh
 * deno task bench                # the full run (about 4-5 minutes on 2 cores)
 * deno task bench --quick        # 3 runs per cell, 20 wrappers in the storm
 * deno task bench --runs 25 --storm 200 --no-write
 * # only the start-up matrix of these contestants (and the floor), no files
 * CLOUDTASER_BENCH_VAULT_ENV=/path/to/vault-env \
 *   deno task bench --only vault-env,vault-env-real --runs 31
 * ```
 *
 * vault-env and envconsul are library re-creations built from
 * scripts/bench/go/ (scripts/bench/go_tools.ts says why and what they call);
 * real binaries are measured beside them when given in
 * CLOUDTASER_BENCH_VAULT_ENV / CLOUDTASER_BENCH_ENVCONSUL.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { bundleWrapper } from "../tests/support/bundle.ts";
import { findBao } from "../tests/support/openbao/binary.ts";
import { type OpenBao, startOpenBao } from "../tests/support/openbao/server.ts";
import {
  contestants,
  type Fixture,
  writeSecretSet,
} from "./bench/contestants.ts";
import { benchGetenv, formatGetenvTable } from "./bench/getenv.ts";
import { describeGoTool, goTools } from "./bench/go_tools.ts";
import { buildBenchTools } from "./bench/native.ts";
import { BASELINE_COMMIT, prepareBaseline } from "./bench/baseline.ts";
import { benchOpen } from "./bench/open.ts";
import { benchRefreshRss } from "./bench/refresh_rss.ts";
import { profileWrapper } from "./bench/profile.ts";
import {
  loadRealCheck,
  REAL_CHECK_HEAD,
  realCheck,
  realCheckRows,
  saveRealCheck,
} from "./bench/real_check.ts";
import {
  type BenchResults,
  cpuTable,
  markdown,
  ratioTable,
  requestsTable,
  residentTable,
  startupTable,
  svgChart,
  targets,
} from "./bench/report.ts";
import { benchStartup } from "./bench/startup.ts";
import { fmt } from "./bench/stats.ts";
import { benchStorm } from "./bench/storm.ts";

const REPO = new URL("../", import.meta.url).pathname;
const dec = new TextDecoder();

function say(line: string): void {
  console.error(`bench: ${line}`);
}

async function output(cmd: string, args: string[]): Promise<string> {
  try {
    const r = await new Deno.Command(cmd, {
      args,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30000),
    }).output();
    return dec.decode(r.stdout).trim();
  } catch {
    return "";
  }
}

async function has(cmd: string): Promise<boolean> {
  return (await output("sh", ["-c", `command -v ${cmd}`])) !== "";
}

/** curl and jq for the shell entrypoint; installs them with apt if missing. */
async function ensureCurlJq(notes: string[]): Promise<string | undefined> {
  const missing = [];
  for (const c of ["curl", "jq"]) if (!(await has(c))) missing.push(c);
  if (!missing.length) return undefined;
  say(`installing ${missing.join(" ")} with apt-get`);
  const r = await new Deno.Command("apt-get", {
    args: ["install", "-y", "--no-install-recommends", ...missing],
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "null",
    stderr: "piped",
    signal: AbortSignal.timeout(300000),
  }).output().catch((e) => ({ success: false, stderr: String(e) }));
  for (const c of missing) {
    if (!(await has(c))) {
      return `the shell entrypoint: ${c} is missing and apt-get could not ` +
        `install it (${
          r.success ? "" : String(r.stderr).slice(0, 100).replace(/\s+/g, " ")
        })`;
    }
  }
  notes.push(`${missing.join(" and ")} installed with apt-get by this run.`);
  return undefined;
}

async function machine(): Promise<BenchResults["machine"]> {
  const cpu = (await Deno.readTextFile("/proc/cpuinfo")).match(
    /^model name\s*:\s*(.*)$/m,
  )?.[1] ?? "unknown";
  let bao = "unknown";
  try {
    bao = (await output(await findBao(), ["version"])).split("\n")[0]
      .replace(/^OpenBao /, "");
  } catch { /* reported as unknown */ }
  return {
    kernel: `${Deno.build.os} ${Deno.osRelease()}`,
    cpu,
    cores: navigator.hardwareConcurrency,
    memGb: Deno.systemMemoryInfo().total / 2 ** 30,
    deno: Deno.version.deno,
    bao,
  };
}

function loadavg(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3)
      .join(" ");
  } catch {
    return "?";
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      runs: { type: "string" },
      storm: { type: "string" },
      "no-write": { type: "boolean" },
      only: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task bench [--quick] [--runs N] [--storm N] [--no-write]\n" +
        "                       [--only ID,ID...]  (start-up matrix only)",
    );
    return 0;
  }
  const runs = Number(values.runs ?? (values.quick ? 3 : 15));
  const stormN = Number(values.storm ?? (values.quick ? 20 : 200));
  const t0 = performance.now();
  const skipped: string[] = [];
  const notes: string[] = [];
  const loadBefore = loadavg();
  // --only: the start-up matrix of those contestants and the floor; a
  // partial run never rewrites the report.
  const only = values.only?.split(",").map((x) => x.trim()).filter(Boolean);
  const write = !values["no-write"] && !only;

  const shellProblem = await ensureCurlJq(notes);
  say("building the bench tools and the vault-env/envconsul re-creations");
  const tools = await buildBenchTools();
  // The wrapper runs as it ships, bundled: made from this checkout now, so a
  // stale build/cloudtaser-wrapper.js is never what is measured.
  await bundleWrapper();
  const go = await goTools();
  for (const t of go) {
    if (t.skipped) {
      say(`skipping ${t.id}: ${t.skipped}`);
      skipped.push(`${t.id}: ${t.skipped}`);
    } else say(describeGoTool(t));
  }
  say(`building the baseline (${BASELINE_COMMIT}, before issue 16)`);
  const baseline = await prepareBaseline();
  if ("skipped" in baseline) {
    say(`skipping the baseline: ${baseline.skipped}`);
    skipped.push(baseline.skipped);
  }
  let list = contestants(go, "dir" in baseline ? baseline.dir : undefined);
  if (shellProblem) {
    skipped.push(shellProblem);
    list = list.filter((c) => c.id !== "shell");
  }
  if (only) {
    const unknown = only.filter((id) => !list.some((c) => c.id === id));
    if (unknown.length) {
      console.error(
        `bench: --only: no contestant ${unknown.join(", ")} here (have ${
          list.map((c) => c.id).join(", ")
        })`,
      );
      return 2;
    }
    list = list.filter((c) => c.id === "direct" || only.includes(c.id));
  }

  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-bench-" });
  let bao: OpenBao | undefined;
  try {
    say("starting OpenBao");
    bao = await startOpenBao();
    const shapes: Array<[number, number]> = [[1, 1], [10, 1], [10, 10], [
      100,
      1,
    ], [100, 10]];
    const sets = [];
    for (const [n, p] of shapes) sets.push(await writeSecretSet(bao, n, p));
    const token = await bao.api("POST", "auth/token/create", {
      policies: ["app"],
      ttl: "1h",
    });
    await Deno.mkdir(`${dir}/home`);
    const fx: Fixture = {
      bao,
      tools,
      appToken: token.json.auth.client_token,
      jwtFile: await bao.jwt.writeFile(),
      home: `${dir}/home`,
      dir,
      noEnforcer: `${dir}/no-enforcer.sock`,
    };

    const startup = await benchStartup({
      fx,
      contestants: list,
      sets,
      runs,
      residentRuns: values.quick ? 1 : 3,
      progress: say,
    });
    const results: BenchResults = {
      date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      machine: await machine(),
      durationS: 0,
      contestants: list,
      goTools: go,
      startup,
      skipped,
      notes,
    };
    const check = realCheck(
      startup,
      go,
      results.date,
      `${results.machine.cpu}, ${results.machine.cores} cores, ` +
        `${results.machine.kernel}`,
    );
    if (check) {
      results.realCheck = { check, thisRun: true };
      if (write) await saveRealCheck(check);
    } else {
      const last = loadRealCheck();
      if (last) results.realCheck = { check: last, thisRun: false };
    }
    for (const c of startup.cells) {
      for (const f of c.failures) {
        notes.push(`${c.contestant} ${c.count}/${c.paths}: ${f}`);
      }
    }

    // The breakdown belongs to the same run as the contestants: with
    // --only, too, whenever the wrapper is one of them.
    if (list.some((c) => c.id === "wrapper-env")) {
      say("profiling the wrapper's start-up");
      try {
        results.profile = await profileWrapper(
          fx,
          sets[1],
          values.quick ? 3 : 9,
        );
        for (const f of results.profile.failures) notes.push(f);
      } catch (e) {
        skipped.push(`start-up profile: ${(e as Error).message}`);
      }
    }

    if (only) {
      printTables(results);
      return 0;
    }

    say(`${stormN} wrappers at once`);
    try {
      results.storm = await benchStorm(fx, sets[1], {
        n: stormN,
        deadlineMs: 120_000,
      });
    } catch (e) {
      skipped.push(`storm: ${(e as Error).message}`);
    }

    say("getenv through the interposer");
    try {
      results.getenv = await benchGetenv();
    } catch (e) {
      skipped.push(`getenv benchmark: ${(e as Error).message}`);
    }

    say("the supervisor's memory across 200 refreshes");
    try {
      results.refreshRss = await benchRefreshRss();
    } catch (e) {
      skipped.push(`refresh RSS: ${(e as Error).message}`);
    }

    say("the enforcer's open() overhead");
    if (Deno.uid() !== 0) {
      skipped.push("the enforcer's open() overhead: needs root");
    } else {
      try {
        results.open = await benchOpen({
          runs: 5,
          n: values.quick ? 50_000 : 200_000,
        });
      } catch (e) {
        skipped.push(`the enforcer's open() overhead: ${(e as Error).message}`);
      }
    }

    results.durationS = (performance.now() - t0) / 1000;
    notes.push(
      `Load average before the run ${loadBefore}, after ${loadavg()} ` +
        `(${results.machine.cores} cores): other work on the machine ` +
        "(another session's attack matrix, say) competes with every " +
        "contestant alike, since runs are interleaved.",
      "The wrapper runs as `deno run` of its bundle, " +
        "build/cloudtaser-wrapper.js (tests/support/bundle.ts; the install " +
        "layout's bundle kind runs the same file); `deno compile` needs the " +
        "denort runtime, which cannot be downloaded here, so the compiled " +
        "binary is not measured.",
      "The shell entrypoint sends one curl + one jq per path after the " +
        "login; it keeps nothing resident and, like vault-env, leaves the " +
        "secrets in the app's /proc/<pid>/environ.",
      "vault-env logs in with JWT (auth/jwt, role app: vault-sdk has no " +
        "cert login) and envconsul uses a pre-issued token (no login " +
        "request); both are configured in scripts/bench/contestants.ts. " +
        "Both are library re-creations (see above), not the real binaries.",
    );
    printTables(results);
    if (write) {
      await Deno.writeTextFile(`${REPO}docs/benchmarks.md`, markdown(results));
      await Deno.writeTextFile(`${REPO}docs/benchmarks.svg`, svgChart(results));
      // The report passes `deno fmt --check` like every other file.
      await new Deno.Command(Deno.execPath(), {
        args: [
          "fmt",
          "-q",
          `${REPO}docs/benchmarks.md`,
          ...(results.realCheck?.thisRun
            ? [`${REPO}scripts/bench/go/real_check.json`]
            : []),
        ],
      }).output();
      say("wrote docs/benchmarks.md and docs/benchmarks.svg");
    }
    return 0;
  } finally {
    await bao?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

function printTables(r: BenchResults): void {
  const out = [
    "Targets",
    ...targets(r).map(([t, m, v]) => `  ${v.padEnd(12)} ${t}: ${m}`),
    "",
    "Start-up (median ms)",
    startupTable(r),
    "",
    "CPU per start (user + sys, median ms)",
    cpuTable(r),
    "",
    "The wrapper against the tools (start-up ratio, CPU ratio)",
    ratioTable(r),
    "",
    "Requests per start (audit log; logged by the wrapper)",
    requestsTable(r),
    "",
    "Resident parent",
    residentTable(r),
  ];
  out.push("", "vault-env and envconsul are library re-creations:");
  for (const t of r.goTools) {
    out.push(`  ${t.path ? describeGoTool(t) : `${t.id}: ${t.skipped}`}`);
  }
  if (r.realCheck) {
    const c = r.realCheck.check;
    out.push(
      "",
      r.realCheck.thisRun
        ? "Re-creations against the real binaries (this run)"
        : `Re-creations against the real binaries (last check, ${c.date})`,
      `  ${REAL_CHECK_HEAD.join(" | ")}`,
      ...realCheckRows(c).map((row) => `  ${row.join(" | ")}`),
    );
  }
  if (r.storm) {
    const s = r.storm;
    out.push(
      "",
      `Storm: ${s.ok}/${s.wrappers} started, p50 ${fmt(s.p50Ms, 0)} ms, ` +
        `p99 ${fmt(s.p99Ms, 0)} ms, max ${fmt(s.maxMs, 0)} ms`,
    );
  }
  if (r.profile) {
    out.push("", `Start-up breakdown (${r.profile.set}):`);
    for (const p of r.profile.phases) {
      const cpu = p.cpuMs === undefined ? "" : ` (CPU ${fmt(p.cpuMs)} ms)`;
      out.push(`  ${fmt(p.ms).padStart(7)} ms  ${p.phase}${cpu}`);
    }
    out.push(
      `  ${fmt(r.profile.totalMs).padStart(7)} ms  total (CPU ${
        fmt(r.profile.totalCpuMs)
      } ms)`,
    );
  }
  if (r.getenv) out.push("", "getenv", formatGetenvTable(r.getenv));
  if (r.open) {
    out.push(
      "",
      `open(): +${r.open.overheadNs} ns (+${r.open.overheadPct} %) ` +
        `per open+close under the ${r.open.tier} enforcer`,
    );
  }
  const failed = r.startup.cells.filter((c) => c.failures.length);
  if (failed.length) {
    out.push(
      "",
      "Failed runs:",
      ...failed.map((c) =>
        `  ${c.contestant} ${c.count}/${c.paths}: ${c.failures.join(" | ")}`
      ),
    );
  }
  if (r.skipped.length) {
    out.push(
      "",
      "Skipped:",
      ...r.skipped.map((s) => `  ${s}`),
    );
  }
  console.log(out.join("\n"));
}

if (import.meta.main) Deno.exit(await main());
