/** What the service dials as an outside number (through the gateway): digits, * and #, an optional leading +. */
export function isDialableNumber(number: string): boolean {
  return /^\+?[0-9*#]{1,32}$/.test(number);
}
