// @ts-check
/**
 * Waiting on conditions instead of sleeping: `eventually` retries a check until it passes or
 * the deadline is reached, then fails with the check's last error. Never use a fixed delay as
 * synchronisation in these tests.
 */

/**
 * Retries `check` until it resolves without throwing; returns its value.
 * @template T
 * @param {() => Promise<T> | T} check
 * @param {{ timeout?: number, interval?: number, what?: string }} [options]
 * @returns {Promise<T>}
 */
export async function eventually(check, options = {}) {
  const timeout = options.timeout ?? 15_000;
  const interval = options.interval ?? 150;
  const deadline = Date.now() + timeout;
  /** @type {unknown} */
  let last;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const reason = last instanceof Error ? last.message : String(last);
      throw new Error(
        `${options.what ?? 'condition'} not met within ${timeout} ms; last failure: ${reason}`,
        { cause: last },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}
