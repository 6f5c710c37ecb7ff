/** Waits until `check` holds, polling every 20 ms; fails naming `what` after `ms`. A bounded wait, not a timing assertion. */
export async function until(check: () => Promise<boolean> | boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out: ${what}`);
}
