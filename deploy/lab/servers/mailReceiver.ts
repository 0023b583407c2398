// The customers' mail server in the lab: a real SMTP receiver (nodemailer's
// smtp-server) that accepts every message and stores it as an .eml file, one
// per delivery, named by arrival order. Runs until SIGTERM.
//   node mailReceiver.js HOST PORT DIR
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

const [host, portText, dir] = process.argv.slice(2);
const port = Number(portText);
if (!host || !dir || !Number.isInteger(port)) {
  process.stderr.write('usage: mailReceiver.js HOST PORT DIR\n');
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
let count = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  disableReverseLookup: true,
  size: 10 * 1024 * 1024,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const n = String(++count).padStart(4, '0');
      const envelope = `X-Lab-Envelope-From: ${session.envelope.mailFrom ? session.envelope.mailFrom.address : ''}\r\nX-Lab-Envelope-To: ${session.envelope.rcptTo.map((r) => r.address).join(', ')}\r\n`;
      // Written whole, then renamed: a reader never sees half a message.
      const tmp = join(dir, `.${n}.tmp`);
      writeFileSync(tmp, Buffer.concat([Buffer.from(envelope), ...chunks]));
      renameSync(tmp, join(dir, `${n}.eml`));
      callback();
    });
  },
});
// A sender's connection reset (a controller killed in a drill) is smtp-server's 'error' event: said, not fatal.
server.on('error', (err: Error) => process.stderr.write(`mail receiver: ${err.message}\n`));
server.listen(port, host, () => process.stdout.write(`receiving mail on ${host}:${port} into ${dir}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
