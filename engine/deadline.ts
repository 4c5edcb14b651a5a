/**
 * Waits for `promise` at most `ms`; resolves true when it settled in time (whether it resolved or rejected),
 * false when the time ran out first. The timer never keeps the process alive past the settling.
 */
export async function settlesWithin(promise: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = Promise.resolve(promise).then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
