/**
 * A wrapper in the middle of a refresh (issue 14): the real wrapper runs
 * ct-app with `CLOUDTASER_REFRESH_INTERVAL`, reaching OpenBao through a TCP
 * proxy the harness owns. Once the app runs, the proxy stalls: the next
 * connection (the supervisor's refresh process, the only thing that talks
 * to OpenBao after the start) is accepted and never answered, so the
 * refresh is held with its token and app region copies mapped, its login
 * token valid, until the harness lets go. The proxy's accept is the event
 * the harness waits for (no sleep); the refresh process is then found as
 * the supervisor's child that is not the app, through `/proc/<pid>/stat`
 * (not a guarded entry), and every attack runs against it and against the
 * supervisor while it is held. A cell whose refresh ended meanwhile (the
 * process gone) says so and is `n/a`, never a pass.
 */
import { judge } from "./judge.ts";
import {
  type AttackFacts,
  type Ctx,
  Instance,
  record,
  runAttack,
  sleep,
  wrapperEnv,
} from "./runner.ts";
import { judgeTokens } from "./starting.ts";
import { type Judged, ROWS } from "./table.ts";

const HELD_TIMEOUT_MS = 30_000;

/** fds a process may hold during a refresh (docs/refresh.md: 3-8 and the
 * supervisor's own); reopen takes a list, getfd takes `all`. */
const LOW_FDS = Array.from({ length: 32 }, (_, i) => i);

/**
 * A TCP proxy in front of OpenBao: it forwards every connection until
 * {@link stall}; after that it accepts and holds each new one, silent.
 */
class StallProxy {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns: Deno.Conn[] = [];
  readonly #held: Deno.Conn[] = [];
  #stalled = false;
  #loop: Promise<void>;

  constructor(readonly upstreamPort: number) {
    this.#loop = (async () => {
      for await (const c of this.#listener) {
        this.#conns.push(c);
        if (this.#stalled) this.#held.push(c);
        else this.#forward(c).catch(() => c.close());
      }
    })().catch(() => {});
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #forward(c: Deno.Conn): Promise<void> {
    const up = await Deno.connect({
      hostname: "127.0.0.1",
      port: this.upstreamPort,
    });
    this.#conns.push(up);
    c.readable.pipeTo(up.writable).catch(() => {});
    up.readable.pipeTo(c.writable).catch(() => {});
  }

  /** From now on, new connections are held without an answer. */
  stall(): void {
    this.#stalled = true;
  }

  /** Resolves once a connection is held (polling, bounded). */
  async held(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (this.#held.length === 0 && Date.now() < end) await sleep(10);
    return this.#held.length > 0;
  }

  async close(): Promise<void> {
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.race([this.#loop, sleep(1000)]);
  }
}

/** ppid and comm from `/proc/<pid>/stat`, or undefined when gone. */
function statOf(pid: number): { ppid: number; comm: string } | undefined {
  try {
    const t = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const close = t.lastIndexOf(")");
    return {
      comm: t.slice(t.indexOf("(") + 1, close),
      ppid: Number(t.slice(close + 2).split(" ")[1]),
    };
  } catch {
    return undefined;
  }
}

/** The supervisor's children other than the app (the refresh process). */
function refreshChildren(supervisor: number, app: number): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    const pid = Number(e.name);
    if (!Number.isInteger(pid) || pid === app) continue;
    if (statOf(pid)?.ppid === supervisor) out.push(pid);
  }
  return out;
}

/** The table's rows of a held refresh, in table order. */
function rows() {
  return ROWS.filter((r) =>
    r.target === "refresh" || r.target === "refresh_supervisor"
  ) as Extract<
    (typeof ROWS)[number],
    { target: "refresh" | "refresh_supervisor" }
  >[];
}

/** The rows of a held refresh, against one freshly started wrapper. */
export async function refreshingVectors(ctx: Ctx): Promise<void> {
  const proxy = new StallProxy(ctx.bao.port);
  let inst: Instance | undefined;
  const na = (why: string) => {
    for (const row of rows()) {
      record(ctx, row.id, row.target, {
        result: "n/a",
        hits: 0,
        short: "no held refresh",
        detail: why,
      });
    }
  };
  try {
    inst = await Instance.start({
      ...wrapperEnv(ctx),
      VAULT_ADDR: `https://127.0.0.1:${proxy.port}`,
      CLOUDTASER_REFRESH_INTERVAL: "1s",
      // The held refresh must outlast the attacks: its own deadline is
      // 80 % of this, its client's VAULT_CLIENT_TIMEOUT.
      CLOUDTASER_REFRESH_TIMEOUT: "20m",
      VAULT_CLIENT_TIMEOUT: "15m",
      CLOUDTASER_REVOKE_ON_EXIT: "false",
    });
    const i = inst.info;
    proxy.stall();
    if (!(await proxy.held(HELD_TIMEOUT_MS))) {
      return na(`no refresh reached the proxy in ${HELD_TIMEOUT_MS} ms`);
    }
    let kids: number[] = [];
    const end = Date.now() + HELD_TIMEOUT_MS;
    while (Date.now() < end) {
      kids = refreshChildren(i.wrapper, i.app);
      if (kids.length === 1) break;
      await sleep(10);
    }
    if (kids.length !== 1) {
      return na(`the supervisor has ${kids.length} children besides the app`);
    }
    const refresh = kids[0];
    const comm = statOf(refresh)!.comm;
    const targets: Record<
      "refresh" | "refresh_supervisor",
      { pid: number; addr: string }
    > = {
      refresh: { pid: refresh, addr: "0" },
      refresh_supervisor: { pid: i.wrapper, addr: i.wrapper_region ?? "0" },
    };
    for (const { id: v, target } of rows()) {
      {
        const t = targets[target];
        const fds = v === "getfd" ? ["all" as const] : LOW_FDS;
        const f = await runAttack(
          v,
          t.pid,
          ctx.markers,
          ctx.enforcer,
          t.addr,
          fds,
        );
        const j = v === "tokens"
          ? await judgeTokens(ctx, f)
          : judge(f, v, ctx.markerNames);
        record(ctx, v, target, held(j, f, refresh, i.wrapper, comm));
      }
    }
  } catch (e) {
    na(`the held refresh could not be set up: ${(e as Error).message}`);
  } finally {
    await inst?.stop();
    await proxy.close();
  }
}

/**
 * The cell as judged, if the refresh was still held when the attack
 * ended; `n/a` when it was gone (then nothing was attacked mid-refresh).
 */
function held(
  j: Judged,
  f: AttackFacts,
  refresh: number,
  supervisor: number,
  comm: string,
): Judged {
  const still = statOf(refresh)?.ppid === supervisor;
  if (!still) {
    return {
      result: "n/a",
      hits: 0,
      short: "the refresh ended",
      detail: `the refresh process ${refresh} was gone after the attack ` +
        `(${f.killed ? "attacker killed" : "attacker done"}): ${j.detail}`,
    };
  }
  return {
    ...j,
    // The fd lists here are 0-31, not what the app listed.
    detail:
      `${
        j.detail.replaceAll("closed since the app listed it", "not open")
      }; the refresh process (${comm}) was held at its ` +
      "connection to the stalled proxy throughout",
  };
}
