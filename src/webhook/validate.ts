/**
 * The validating check: an opted-in pod must still run the wrapper when it
 * is stored, whatever ran after the mutating webhook (another webhook, a
 * controller's rewrite, a mutating configuration deleted or edited). Pure.
 *
 * For every container the pod opted in (same selection as the mutation):
 * its command starts with `/cloudtaser/cloudtaser-wrapper --` and it mounts
 * the wrapper volume at /cloudtaser; the volume is a memory-backed emptyDir;
 * the first init container installs the wrapper from the configured image;
 * no other container can write to that volume.
 */
import { AnnotationError, NAMES } from "./annotations.ts";
import { type InjectOptions, optedIn, selectContainers } from "./inject.ts";
import type { Container, Pod } from "./pod.ts";

function mountsWrapper(c: Container): boolean {
  return (c.volumeMounts ?? []).some((m) =>
    m.name === NAMES.volume && m.mountPath === NAMES.dir
  );
}

/** What is wrong with the pod, or `null` when it may be stored. */
export function checkPod(pod: Pod, opts: InjectOptions): string | null {
  let selected: Container[];
  try {
    if (!optedIn(pod)) return null;
    selected = selectContainers(pod);
  } catch (e) {
    if (e instanceof AnnotationError) return e.message;
    throw e;
  }
  const problems: string[] = [];
  const volume = (pod.spec?.volumes ?? []).find((v) => v.name === NAMES.volume);
  if (volume?.emptyDir?.medium !== "Memory") {
    problems.push(
      `volume "${NAMES.volume}" is ${
        volume ? "not a memory-backed emptyDir" : "missing"
      }`,
    );
  }
  const inits = pod.spec?.initContainers ?? [];
  const install = inits[0];
  if (
    install?.name !== NAMES.initContainer || install.image !== opts.image ||
    JSON.stringify(install.args) !==
      JSON.stringify(["install", NAMES.dir]) ||
    (install.command !== undefined && install.command.length > 0) ||
    !mountsWrapper(install)
  ) {
    problems.push(
      `the first init container is not "${NAMES.initContainer}" running ` +
        `${opts.image} with args [install, ${NAMES.dir}]`,
    );
  }
  for (const c of selected) {
    if (c.command?.[0] !== NAMES.wrapper || c.command[1] !== "--") {
      problems.push(
        `container "${c.name}" does not run the wrapper: its command starts ` +
          `with ${JSON.stringify((c.command ?? []).slice(0, 2))}, not ` +
          JSON.stringify([NAMES.wrapper, "--"]),
      );
    } else if (c.command.length < 3) {
      problems.push(`container "${c.name}" has nothing after the wrapper's --`);
    }
    if (!mountsWrapper(c)) {
      problems.push(
        `container "${c.name}" does not mount "${NAMES.volume}" at ${NAMES.dir}`,
      );
    }
  }
  // Only the installer may write the wrapper: anything else that mounts the
  // volume writable could replace it before the app starts.
  for (const c of [...inits.slice(1), ...(pod.spec?.containers ?? [])]) {
    const rw = (c.volumeMounts ?? []).find((m) =>
      m.name === NAMES.volume && m.readOnly !== true
    );
    if (rw) {
      problems.push(
        `container "${c.name}" mounts "${NAMES.volume}" writable at ` +
          `${rw.mountPath}`,
      );
    }
  }
  return problems.length
    ? `cloudtaser: this pod opted in to the wrapper, but ${
      problems.join("; ")
    }. Something after the cloudtaser mutating webhook changed the pod, or ` +
      `the webhook did not run; the pod is refused rather than started ` +
      `without its protection`
    : null;
}
