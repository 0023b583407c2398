import { describe, expect, it } from 'vitest';
import { findProseTime } from '../../../controller/intake/formats/proseTime.js';

const REF = new Date('2024-03-06T12:00:00Z');

describe('findProseTime', () => {
  it.each([
    ['seen on 2024-03-05 14:22:10 UTC from', '2024-03-05T14:22:10.000Z'],
    ['at 2024-03-05T14:22:10+01:00.', '2024-03-05T13:22:10.000Z'],
    ['2024/03/05 14:22:10 CET', '2024-03-05T13:22:10.000Z'],
    ['192.0.2.5 - - [05/Mar/2024:14:22:10 +0100] "POST /wp-login.php', '2024-03-05T13:22:10.000Z'],
    ['Date: Tue, 5 Mar 2024 14:22:10 -0500', '2024-03-05T19:22:10.000Z'],
    ['on 5 March 2024 14:22 CEST', '2024-03-05T12:22:00.000Z'],
    ['on March 5th, 2024 at 14:22:10 UTC', '2024-03-05T14:22:10.000Z'],
    ['Mar  5 14:22:10 CET sshd[123]: Failed password', '2024-03-05T13:22:10.000Z'],
    ['Dec 31 23:59:59 host sshd: x', '2023-12-31T23:59:59.000Z'],
  ])('%s → %s', (text, iso) => expect(findProseTime(text, REF)?.toISOString()).toBe(iso));

  it('answers undefined when no time is written', () => {
    expect(findProseTime('no time here, only 192.0.2.5 and port 22', REF)).toBeUndefined();
  });
});
