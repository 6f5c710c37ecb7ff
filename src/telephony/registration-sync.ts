/**
 * Handsets' registrations shared by several instances: drachtio-server hands each REGISTER to one instance, but a
 * call to the handset may be placed by any. Every change a REGISTER makes here is saved to the store and told to
 * the others (a `registration` message); theirs replace this instance's copy of that phone. At start, and after
 * the store was away (messages lost), every registration is read again. The last REGISTER of a phone wins (a
 * handset sends one at a time; two instances taking two of one phone's REGISTERs at the same moment could leave
 * the older one: the next refresh sets it right).
 */
import type { Logger } from 'pino';
import type { StateStore } from '../ports/state-store.js';
import type { Binding, BindingStore } from './registrations.js';

export class RegistrationSync {
  private readonly off: (() => void)[] = [];

  constructor(
    private readonly bindings: BindingStore,
    private readonly store: StateStore,
    private readonly instanceId: string,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.off.push(
      this.store.onBroadcast((message) => {
        if (message.kind === 'registration' && message.from !== this.instanceId) this.bindings.replace(message.record.phone, message.record.bindings as Binding[]);
      }),
      this.bindings.onChange((phone) => void this.publish(phone)),
      this.store.onReconnect?.(() => void this.reload()) ?? (() => undefined),
    );
    await this.reload();
  }

  stop(): void {
    for (const off of this.off.splice(0)) off();
  }

  private async reload(): Promise<void> {
    try {
      const records = await this.store.registrations();
      for (const record of records) this.bindings.replace(record.phone, record.bindings as Binding[]);
      this.log.info({ phones: records.length }, "handsets' registrations loaded from the store");
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, "handsets' registrations not loaded from the store");
    }
  }

  private async publish(phone: string): Promise<void> {
    const record = { phone, bindings: this.bindings.bindingsOf(phone) };
    try {
      await this.store.saveRegistration(record);
      await this.store.broadcast({ kind: 'registration', from: this.instanceId, record });
    } catch (error) {
      this.log.warn({ phone, err: (error as Error).message }, 'registration not shared: only this instance can call the handset until its next REGISTER');
    }
  }
}
