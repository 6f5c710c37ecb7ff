import { SipPhone } from './test/integration/support/sip-phone.js';
import { integrationEnv, startStack } from './test/integration/support/stack.js';
const env = integrationEnv() as Exclude<ReturnType<typeof integrationEnv>, string>;
const stack = await startStack(env, {
  agents: [{ workNo: '201', phone: '3001' }],
  contactFor: (p) => (p === '3001' ? 'sip:3001@127.0.0.1:45000' : undefined),
  routes: [{ did: '4100', route: { kind: 'agent', workNo: '201' } }],
  listenPort: 8087,
  mediaSilenceTimeoutMs: 3000,
});
await stack.fsApi('fsctl loglevel debug');
const a = (await SipPhone.open('3001', 45000, 55000)).answerAfter(0);
const b = await SipPhone.open('5550200', 45002, 55002);
console.log('call', await b.call({ host: '127.0.0.1', port: 5060 }, '4100'));
await new Promise((r) => setTimeout(r, 1000));
for (const s of stack.orchestrator.callStates()) for (const leg of Object.values(s.legs)) {
  const uuid = stack.backend.channelOf(leg.id);
  console.log(leg.number, uuid, (await stack.fsApi(`uuid_getvar ${uuid} media_timeout`)).trim(), (await stack.fsApi(`uuid_getvar ${uuid} sip_h_X-Helpdesk-Media-Timeout`)).trim(), (await stack.fsApi(`uuid_getvar ${uuid} media_timeout_audio`)).trim(),(await stack.fsApi(`uuid_getvar ${uuid} rtp_timeout_sec`)).trim(),(await stack.fsApi(`uuid_getvar ${uuid} rtp_use_codec_name`)).trim());
}
console.log('hold', await a.hold('sendonly'));
for (const s of stack.orchestrator.callStates()) for (const leg of Object.values(s.legs)) { const uuid = stack.backend.channelOf(leg.id); console.log('after hold', leg.number, (await stack.fsApi(`uuid_getvar ${uuid} media_timeout`)).trim(), (await stack.fsApi(`uuid_getvar ${uuid} media_timeout_audio`)).trim()); }
await Promise.race([b.remoteHangup, new Promise((r) => setTimeout(r, 6000))]);
console.log('b state', b.state, 'a rtp received', a.rtpReceived, 'b rtp received', b.rtpReceived);
a.close(); b.close();
await stack.stop();
process.exit(0);
