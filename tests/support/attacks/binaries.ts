/**
 * The attack programs (c/attacks/): the one place naming them. They are
 * separate processes because the enforcer's fallback tier kills the
 * attacker.
 */
const REPO = new URL("../../../", import.meta.url).pathname;
export const ROOTATTACK = `${REPO}build/attacks/ct-rootattack`;
export const APP = `${REPO}build/attacks/ct-app`;
/** A static build of ct-app: a grandchild that cannot load the interposer. */
export const APP_STATIC = `${REPO}build/attacks/ct-app-static`;
/** A neighbour that races for the tracer slot of the next processes. */
export const SEIZE = `${REPO}build/attacks/ct-seize`;
/** Holds a secret everywhere attackers look (the controls). */
export const CT_TARGET = `${REPO}build/attacks/ct-target`;
/** Sends a signal the ways root can (the start-up freeze). */
export const CT_SIGNAL = `${REPO}build/attacks/ct-signal`;
