import { describe, expect, it } from 'vitest';
import { HandshakeRefusalLog } from '../../controller/transport/HandshakeRefusalLog.js';
import { recordingLog } from '../helpers/recordingLog.js';

describe('HandshakeRefusalLog', () => {
  it('logs each address at most once a minute and sums up the rest', () => {
    let now = 0;
    const { log, lines } = recordingLog();
    const refusals = new HandshakeRefusalLog(log, () => now);
    refusals.refuse('192.0.2.1', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    refusals.refuse('192.0.2.1', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    refusals.refuse('192.0.2.2', 'ECONNRESET');
    now = 59_999;
    refusals.refuse('192.0.2.1', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(lines.map((l) => [l.msg, l.peer])).toEqual([
      ['TLS handshake refused', '192.0.2.1'],
      ['TLS handshake refused', '192.0.2.2'],
    ]);
    refusals.summarise();
    expect(lines[2]).toMatchObject({ msg: expect.stringMatching(/^TLS handshakes refused since the last summary/), refused: 4, notLogged: 2, addresses: 2 });
    now = 60_000;
    refusals.refuse('192.0.2.1', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(lines).toHaveLength(4);
    // Nothing suppressed since: no summary line.
    refusals.summarise();
    expect(lines).toHaveLength(4);
  });

  it('stops remembering new addresses at its limit and only counts them', () => {
    const { log, lines } = recordingLog();
    const refusals = new HandshakeRefusalLog(log, () => 0, { maxAddresses: 2 });
    for (const a of ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4']) refusals.refuse(a, 'x');
    expect(lines).toHaveLength(2);
    refusals.summarise();
    expect(lines[2]).toMatchObject({ refused: 4, notLogged: 2 });
  });
});
