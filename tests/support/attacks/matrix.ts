/**
 * The root attack matrix: root on the same machine tries each vector against
 * a live wrapper (the resident C supervisor) and its app, with secrets
 * fetched from a real OpenBao over mTLS as markers, in `env` and
 * `interposer` delivery, with and without the enforcer.
 *
 * The attacks run as separate processes (`build/attacks/ct-rootattack`),
 * because the enforcer's fallback tier kills the attacker. The harness itself
 * never opens a protected process's `/proc` entries: addresses and fd numbers
 * come from the app (`build/attacks/ct-app`), which, as a member of the
 * wrapper's group, may read them. No marker value is ever printed: results
 * hold counts and mapping names.
 *
 * @example
 * ```ts
 * import { runMatrix } from "./matrix.ts";
 * const report = await runMatrix({ log: console.error });
 * console.log(report.cells.filter((c) => c.result === "recovered").length);
 * ```
 */
import { Buffer } from "node:buffer";
import { keyScalar } from "../mem_scan.ts";
import { Enforcer } from "../enforcer.ts";
import { put } from "../openbao/mod.ts";
import { startOpenBao } from "../openbao/server.ts";
import { coreVectors, withCoreDir } from "./cores.ts";
import { refreshingVectors } from "./refreshing.ts";
import { startingVectors } from "./starting.ts";
import { measureWindows, type Windows } from "./windows.ts";
import { judge, judgeLayout } from "./judge.ts";
import {
  type Ctx,
  hex,
  Instance,
  record,
  runAttack,
  SECRETS_ENV,
  wrapperEnv,
} from "./runner.ts";
import {
  ALL_COLUMNS,
  type Cell,
  type MatrixOptions,
  type MatrixReport,
  type Mode,
  ROWS,
  type Target,
  type VectorId,
} from "./table.ts";

/** The non-destructive vectors, on one live instance. */
async function readVectors(ctx: Ctx): Promise<void> {
  const inst = await Instance.start(wrapperEnv(ctx));
  try {
    const i = inst.info;
    ctx.appKeys[ctx.col.mode] = i.keys.map((k) => `${k.key}: ${k.where}`)
      .join(", ");
    // The live instance's processes (the start-up rows have their own).
    const targets: Partial<
      Record<Target, { pid: number; region: string | null; fds: number[] }>
    > = {
      wrapper: { pid: i.wrapper, region: i.wrapper_region, fds: i.wrapper_fds },
      app: { pid: i.app, region: i.app_region, fds: i.app_fds },
      grandchild: { pid: i.grandchild, region: i.grandchild_region, fds: [] },
      sh_grandchild: {
        pid: i.sh_grandchild,
        region: i.sh_grandchild_region,
        fds: [],
      },
      static_grandchild: { pid: i.static_grandchild, region: null, fds: [] },
    };
    if (i.wrapper !== inst.pid) {
      throw new Error(
        `the app's parent ${i.wrapper} is not the wrapper ${inst.pid}`,
      );
    }
    const attack = async (vector: VectorId, target: Target) => {
      const t = targets[target]!;
      if (vector === "layout") {
        return record(ctx, vector, target, judgeLayout(i, target));
      }
      if (!t.pid) {
        // The program was never started: its exec was refused.
        const err = target === "static_grandchild" ? i.static_error : null;
        return record(ctx, vector, target, {
          result: err ? "blocked" : "n/a",
          hits: 0,
          short: err ? `exec refused (${err})` : "not started",
          detail: err
            ? `the app's exec of a static program failed with ${err}: ` +
              "it cannot load the interposer and would get its secrets in " +
              "its environment"
            : "the app did not start this program",
        });
      }
      if (vector === "mem" && !t.region) {
        return record(ctx, vector, target, {
          result: "n/a",
          hits: 0,
          short: "no region",
          detail: "no /secretmem mapping in this process (see the scan row)",
        });
      }
      const addr = t.region ?? (target === "app" ? i.app_stack : "0");
      const f = await runAttack(
        vector,
        t.pid,
        ctx.markers,
        ctx.enforcer,
        addr,
        t.fds,
      );
      const j = judge(f, vector);
      if (!t.region) {
        // the address was a page of the app's stack, not a region
        j.detail = j.detail.replaceAll(" region:", " at a stack page:");
        j.short = j.short.replaceAll(" region", " at a stack page");
      }
      record(ctx, vector, target, j);
    };
    for (const row of ROWS) {
      if (row.id.startsWith("core_") || !targets[row.target]) continue;
      await attack(row.id, row.target);
    }
  } finally {
    await inst.stop();
  }
}

/** Runs the matrix; every process, the enforcer, OpenBao and core_pattern
 * are cleaned up or restored before it returns or throws. */
export async function runMatrix(
  opts: MatrixOptions = {},
): Promise<MatrixReport> {
  const log = opts.log ?? (() => {});
  const columns = opts.columns ?? ALL_COLUMNS;
  const t0 = performance.now();
  const cells: Cell[] = [];
  const appKeys = {} as Record<Mode, string>;
  let tier = "not run";
  let lsmUnavailable: string | undefined;
  let windows: Windows | undefined;
  const bao = await startOpenBao();
  try {
    const markers = [`CTATK-db-${hex(16)}`, `CTATK-api-${hex(16)}`];
    await put(bao, "secret/data/attacks/db", {
      password: markers[0],
      user: "app",
    });
    await put(bao, "secret/data/attacks/api", { key: markers[1] });
    // The mTLS client key is a secret too: 40 characters of its PEM body
    // (the second line: the first starts with the header every P-256 key
    // shares), and the private scalar itself as OpenSSL holds it once
    // parsed (a BIGNUM: little-endian limbs here), in both byte orders.
    const pem = Deno.readTextFileSync(bao.clientKey);
    const keyLines = pem.split("\n").filter((l) =>
      /^[A-Za-z0-9+/]{40,}$/.test(l)
    );
    const d = keyScalar(pem);
    markers.push(
      keyLines[1].slice(0, 40),
      `hex:${d.toString("hex")}`,
      `hex:${Buffer.from(d).reverse().toString("hex")}`,
    );
    const markerNames = [
      "DB_PASSWORD",
      "API_KEY",
      "client key",
      "client key scalar",
      "client key scalar (LE)",
    ];
    log("start-up windows (strace)");
    windows = await measureWindows(bao, SECRETS_ENV);
    for (const withEnforcer of [false, true]) {
      const cols = columns.filter((c) => c.enforcer === withEnforcer);
      if (cols.length === 0) continue;
      const enforcer = withEnforcer ? await Enforcer.start() : undefined;
      try {
        if (enforcer) {
          tier = String(enforcer.ready.tier);
          lsmUnavailable = enforcer.ready.lsm_unavailable as string | undefined;
        }
        for (const col of cols) {
          log(`${col.mode}, enforcer ${withEnforcer ? tier : "off"}: reads`);
          const ctx = {
            bao,
            markers,
            markerNames,
            enforcer,
            col,
            cells,
            appKeys,
            log,
          };
          await readVectors(ctx);
          log(`${col.mode}, enforcer ${withEnforcer ? tier : "off"}: start-up`);
          await startingVectors(ctx);
          log(`${col.mode}, enforcer ${withEnforcer ? tier : "off"}: refresh`);
          await refreshingVectors(ctx);
        }
        await withCoreDir(async (cores) => {
          for (const col of cols) {
            log(`${col.mode}, enforcer ${withEnforcer ? tier : "off"}: cores`);
            await coreVectors(
              { bao, markers, markerNames, enforcer, col, cells, appKeys, log },
              cores,
            );
          }
        });
      } finally {
        await enforcer?.stop();
      }
    }
  } finally {
    await bao.stop();
  }
  return {
    date: new Date().toISOString().slice(0, 10),
    kernel: Deno.osRelease(),
    tier,
    lsmUnavailable,
    cells,
    durationMs: performance.now() - t0,
    appKeys,
    windows,
  };
}
