/**
 * A real PostgreSQL (Debian's package) for the dynamic-secret tests: a
 * cluster of its own in a temp dir, run as the `postgres` user, listening
 * on 127.0.0.1 (scram passwords) and a unix socket in that dir (trust, for
 * the test's own queries). Always `stop()` it.
 */

/** A running cluster. */
export interface Postgres {
  port: number;
  /** This version's psql (the app logs in with it). */
  psql: string;
  /** The superuser OpenBao connects as, and its password. */
  admin: { user: string; password: string };
  /** Runs SQL as the superuser over the socket; the rows, `|`-separated. */
  query(sql: string): Promise<string[]>;
  stop(): Promise<void>;
}

function binDir(): string {
  try {
    for (const e of Deno.readDirSync("/usr/lib/postgresql")) {
      const bin = `/usr/lib/postgresql/${e.name}/bin`;
      try {
        Deno.statSync(`${bin}/postgres`);
        return bin;
      } catch { /* not this one */ }
    }
  } catch { /* not installed */ }
  throw new Error(
    "PostgreSQL is not installed (/usr/lib/postgresql/*/bin/postgres); " +
      "scripts/setup.sh installs it",
  );
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** `cmd` as the postgres user (setpriv execs: the pid is the program's). */
function asPostgres(cmd: string, args: string[]) {
  return new Deno.Command("/usr/bin/setpriv", {
    args: [
      "--reuid=postgres",
      "--regid=postgres",
      "--clear-groups",
      cmd,
      ...args,
    ],
    env: { PATH: "/usr/bin:/bin", LC_ALL: "C" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

async function must(cmd: string, args: string[]): Promise<string> {
  const out = await asPostgres(cmd, args).output();
  const dec = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${out.code}\n${dec.decode(out.stderr)}`,
    );
  }
  return dec.decode(out.stdout);
}

/** Starts a fresh cluster and waits until it accepts connections. */
export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  const dir = await Deno.makeTempDir({ prefix: "cloudtaser-pg-" });
  const pw = await Deno.lstat("/var/lib/postgresql").catch(() => null);
  const uid = pw?.uid ?? 0;
  const gid = pw?.gid ?? 0;
  await Deno.chown(dir, uid, gid);
  await Deno.chmod(dir, 0o700);
  const admin = {
    user: "postgres",
    password: crypto.randomUUID().replaceAll("-", ""),
  };
  await Deno.writeTextFile(`${dir}/pw`, admin.password);
  await Deno.chown(`${dir}/pw`, uid, gid);
  await must(`${bin}/initdb`, [
    "-D",
    `${dir}/data`,
    "-U",
    admin.user,
    `--pwfile=${dir}/pw`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
  ]);
  await Deno.remove(`${dir}/pw`);
  const port = freePort();
  const server = asPostgres(`${bin}/postgres`, [
    "-D",
    `${dir}/data`,
    "-k",
    dir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
  ]).spawn();
  const logs = Promise.all([
    server.stdout.pipeTo(new WritableStream()),
    server.stderr.pipeTo(new WritableStream()),
  ]);
  const query = async (sql: string) =>
    (await must(`${bin}/psql`, [
      "-h",
      dir,
      "-p",
      String(port),
      "-U",
      admin.user,
      "-d",
      "postgres",
      "-Atc",
      sql,
    ])).split("\n").filter((l) => l !== "");
  const stop = async () => {
    try {
      server.kill("SIGINT"); // fast shutdown
    } catch { /* gone */ }
    await server.status;
    await logs.catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const end = Date.now() + 30_000;
  for (;;) {
    const ready = await asPostgres(`${bin}/pg_isready`, [
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
    ]).output();
    if (ready.success) break;
    if (Date.now() > end) {
      await stop();
      throw new Error("PostgreSQL did not accept connections within 30 s");
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { port, psql: `${bin}/psql`, admin, query, stop };
}
