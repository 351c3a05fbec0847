/**
 * Environment names that change how the app is loaded, interpreted or runs
 * other programs. A secret delivered under one of them hands whoever can
 * write that secret in Vault the app's process: `LD_PRELOAD` makes the loader
 * load a library of their choosing (and ld.so prints the value when it
 * fails), `NODE_OPTIONS=--require`, `PYTHONSTARTUP`, `PERL5OPT=-M`, `BASH_ENV`
 * run code, `PATH` chooses which program runs. So a secret may not take such
 * a name unless CLOUDTASER_ALLOW_DANGEROUS_NAMES names it. Pure.
 */

/** Exact names. */
const NAMES = new Set([
  // glibc's loader and libc, beyond LD_*.
  "GCONV_PATH",
  "GETCONF_DIR",
  "GLIBC_TUNABLES",
  "HOSTALIASES",
  "LOCALDOMAIN",
  "LOCPATH",
  "NIS_PATH",
  "NLSPATH",
  "RESOLV_HOST_CONF",
  "RES_OPTIONS",
  "TMPDIR",
  "TZDIR",
  // Shells and the programs they start.
  "PATH",
  "BASH_ENV",
  "ENV",
  "IFS",
  "CDPATH",
  "PS4",
  "PROMPT_COMMAND",
  "SHELLOPTS",
  "BASHOPTS",
  "GLOBIGNORE",
  "ZDOTDIR",
  "SHELL",
  "HOME",
  "EDITOR",
  "VISUAL",
  "PAGER",
  "MANPAGER",
  "BROWSER",
  "LESSOPEN",
  "LESSCLOSE",
  "SSH_ASKPASS",
  "SUDO_ASKPASS",
  "GIT_ASKPASS",
  "GIT_EXEC_PATH",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_PROXY_COMMAND",
  "GIT_EXTERNAL_DIFF",
  "GIT_TEMPLATE_DIR",
  // Node.js and Deno.
  "NODE_OPTIONS",
  "NODE_PATH",
  "NODE_EXTRA_CA_CERTS",
  "NODE_TLS_REJECT_UNAUTHORIZED",
  "NODE_REPL_EXTERNAL_MODULE",
  "NODE_ICU_DATA",
  "NODE_V8_COVERAGE",
  "DENO_DIR",
  "DENO_V8_FLAGS",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  // The JVM and .NET.
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  "JDK_JAVA_OPTIONS",
  "JAVA_OPTS",
  "JAVA_HOME",
  "CLASSPATH",
  // Ruby, PHP, Tcl, Go.
  "GEM_HOME",
  "GEM_PATH",
  "BUNDLE_GEMFILE",
  "PHPRC",
  "PHP_INI_SCAN_DIR",
  "TCLLIBPATH",
  "GODEBUG",
  "GOTRACEBACK",
  // TLS libraries that load code from a configured file.
  "OPENSSL_CONF",
  "OPENSSL_ENGINES",
  "OPENSSL_MODULES",
  // The wrapper's own contract with the app.
  "CLOUDTASER_SECRET_FD",
]);

/** Prefixes: whole families of loader and interpreter settings. */
const PREFIXES = [
  "LD_", // the dynamic loader (glibc and musl)
  "MALLOC_", // glibc malloc (MALLOC_TRACE writes a file)
  "BASH_FUNC_", // exported bash functions
  "PYTHON", // PYTHONSTARTUP, PYTHONPATH, PYTHONHOME, PYTHONWARNINGS, ...
  "PERL5", // PERL5OPT, PERL5LIB, PERL5DB
  "PERLLIB",
  "PERL_",
  "RUBY", // RUBYOPT, RUBYLIB
  "LUA_", // LUA_INIT runs code
  "ERL_", // ERL_FLAGS, ERL_LIBS
  "DOTNET_", // DOTNET_STARTUP_HOOKS, ...
  "CORECLR_", // CORECLR_PROFILER_PATH
  "COMPlus_",
  "GIT_CONFIG", // GIT_CONFIG_COUNT/KEY_n/VALUE_n set any git option
];

/** Whether a secret under `name` would control how the app runs. */
export function isDangerousName(name: string): boolean {
  return NAMES.has(name) || PREFIXES.some((p) => name.startsWith(p));
}

/**
 * Why `name`, set by `source`, is refused, or undefined when it may be used.
 *
 * @example
 * ```ts
 * dangerousNameProblem("LD_PRELOAD", "env LD_PRELOAD=vault:a#b", new Set());
 * // "secret name LD_PRELOAD (from env LD_PRELOAD=vault:a#b) ..."
 * ```
 */
export function dangerousNameProblem(
  name: string,
  source: string,
  allowed: ReadonlySet<string>,
): string | undefined {
  if (!isDangerousName(name) || allowed.has(name)) return undefined;
  return `secret name ${name} (from ${source}) would control how the app ` +
    `is loaded or interpreted, or which programs it runs: whoever can write ` +
    `that secret could run code in the app. Deliver it under another name ` +
    `(CLOUDTASER_ENV_MAP field=OTHER_NAME), or, if the app really needs it, ` +
    `name it in CLOUDTASER_ALLOW_DANGEROUS_NAMES`;
}
