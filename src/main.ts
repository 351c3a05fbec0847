/**
 * cloudtaser-wrapper: delivers Vault/OpenBao secrets to an application from
 * protected memory, as the container's PID 1.
 *
 * Kept tiny: src/boot.ts starts signal capture before the rest of the
 * program is loaded (a dynamic import).
 */
import { startEarly } from "./boot.ts";

if (import.meta.main) {
  startEarly();
  const { main } = await import("./cli/main.ts");
  Deno.exit(await main(Deno.args));
}
