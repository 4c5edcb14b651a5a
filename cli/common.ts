/** Exit codes: 1 = the sync failed, 2 = the command or config is wrong (nothing was started). */
export const EXIT_SYNC_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in how a command was called; exits with {@link EXIT_USAGE}. */
export class UsageError extends Error {}

/** How long `bizon run` waits for its run (`bizonPipeline`) to close once its sync has ended (one workflow task). */
export const RUN_CLOSE_WAIT_MS = 10_000;
