import { describe, expect, it } from 'vitest';
import { parseReportDate } from '../../controller/intake/parseReportDate.js';

describe('parseReportDate', () => {
  it.each([
    ['Mon, 7 Sep 2015 08:58:04 -0700 (PDT)', '2015-09-07T15:58:04.000Z'],
    ['7 Sep 2015 08:58:04 PDT', '2015-09-07T15:58:04.000Z'],
    ['19 Jun 2003 17:34:13 EDT', '2003-06-19T21:34:13.000Z'],
    ['Thu, 19 Jun 03 17:34 -0400', '2003-06-19T21:34:00.000Z'],
    ['Sat, 28 Nov 2015 12:58:43 CET', '2015-11-28T11:58:43.000Z'],
    ['Sat, 27 Jun 2015 12:58:43 CEST', '2015-06-27T10:58:43.000Z'],
    ['Mon, 7 Sep 2015 08:58:04 UT', '2015-09-07T08:58:04.000Z'],
    ['2021-03-07 00:00:00', '2021-03-07T00:00:00.000Z'],
    ['2025-01-11T15:35:37Z', '2025-01-11T15:35:37.000Z'],
    ['2015-09-25 22:14:33-07:00', '2015-09-26T05:14:33.000Z'],
    ['2015-11-27T11:58:43.123Z', '2015-11-27T11:58:43.123Z'],
    ['2015-11-27T11:58', '2015-11-27T11:58:00.000Z'],
    ['1056058453', '2003-06-19T21:34:13.000Z'],
  ])('%s', (input, expected) => {
    expect(parseReportDate(input)?.toISOString()).toBe(expected);
  });

  it.each(['', 'yesterday', '2015-13-01 00:00:00', '7 Sep 2015 08:58:04 XYZT', '32 Sep 2015 08:58:04 UT'])('refuses %j', (input) => {
    expect(parseReportDate(input)).toBeUndefined();
  });
});
