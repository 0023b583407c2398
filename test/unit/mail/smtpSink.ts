import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';

export interface ReceivedMail {
  /** The DATA as the server stored it: dot-stuffing undone, nothing else touched. */
  raw: Buffer;
  mailFrom: string;
  mailFromArgs: Record<string, string>;
  rcptTo: string[];
}

/** How the sink answers the next DATA: accept, refuse with a reply code, or hold until released. */
export type SinkMode = { accept: true } | { reply: number } | { hold: Promise<void> };

/**
 * A real receiving SMTP server (nodemailer's smtp-server) on 127.0.0.1, for
 * tests: no TLS, no auth required, everything it accepts kept in `received`.
 */
export class SmtpSink {
  readonly received: ReceivedMail[] = [];
  /** Every DATA the server saw, accepted or not. */
  dataCount = 0;
  /** Connection errors the server reported (a client reset, say). */
  readonly errors: Error[] = [];
  mode: SinkMode = { accept: true };
  private constructor(private readonly server: SMTPServer, readonly port: number) {}

  static async start(port = 0): Promise<SmtpSink> {
    let sink: SmtpSink | undefined;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      // Without it every connection waits on a reverse DNS lookup of 127.0.0.1.
      disableReverseLookup: true,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => void sink!.answer(Buffer.concat(chunks), session.envelope.mailFrom, session.envelope.rcptTo, callback));
      },
    });
    // A client's connection reset (a controller the test kills -9 mid-session) is smtp-server's 'error' event;
    // unheard, it is an uncaught exception in the test process. Kept for a test that wants to look.
    server.on('error', (err: Error) => sink?.errors.push(err));
    await new Promise<void>((resolve, reject) => {
      server.server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    sink = new SmtpSink(server, (server.server.address() as AddressInfo).port);
    return sink;
  }

  private async answer(raw: Buffer, from: SMTPServerAddress | false, to: SMTPServerAddress[], callback: (err?: Error | null) => void) {
    this.dataCount++;
    const mode = this.mode;
    if ('hold' in mode) await mode.hold;
    if ('reply' in mode) {
      // smtp-server answers with err.responseCode; 550 is a permanent "no".
      callback(Object.assign(new Error(`refused by the test sink (${mode.reply})`), { responseCode: mode.reply }));
      return;
    }
    this.received.push({
      raw,
      mailFrom: from ? from.address : '',
      mailFromArgs: (from ? from.args : {}) as Record<string, string>,
      rcptTo: to.map((a) => a.address),
    });
    callback();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port on 127.0.0.1 that nothing listens on (just released by a sink), to play "relay down". */
export async function freePort(): Promise<number> {
  const sink = await SmtpSink.start();
  await sink.close();
  return sink.port;
}
