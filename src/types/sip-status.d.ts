/** sip-status (drachtio's table of SIP reason phrases; it ships no typings): one plain object, status -> phrase. */
declare module 'sip-status' {
  /** E.g. 486 -> 'Busy Here'; undefined for a status that the table does not know. */
  const phrases: Readonly<Record<number, string | undefined>>;
  export default phrases;
}
