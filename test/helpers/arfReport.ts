/**
 * An ARF (RFC 5965) spam report about `ip`, as a feedback loop sends it:
 * the human part, the machine-readable feedback report, and the original
 * message. CRLF line ends, as on the wire.
 */
export function arfReport(opts: {
  from: string;
  replyTo?: string | undefined;
  messageId: string;
  eventTime: string;
  ip: string;
  /** The spam's own sender and text. */
  originalFrom?: string;
  note?: string;
}): string {
  const date = new Date(opts.eventTime).toUTCString();
  return [
    `From: ${opts.from}`,
    ...(opts.replyTo ? [`Reply-To: ${opts.replyTo}`] : []),
    'To: abuse@hoster.example',
    `Message-ID: <${opts.messageId}>`,
    `Date: ${date}`,
    'Subject: FW: spam report',
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain',
    '',
    'This is an email abuse report.',
    '--b1',
    'Content-Type: message/feedback-report',
    '',
    'Feedback-Type: abuse',
    'User-Agent: fbl/1.0',
    'Version: 1',
    `Source-IP: ${opts.ip}`,
    `Arrival-Date: ${date}`,
    '--b1',
    'Content-Type: message/rfc822',
    '',
    `From: ${opts.originalFrom ?? 'spammer@example.net'}`,
    `Message-ID: <orig-${opts.messageId}>`,
    'Subject: cheap',
    '',
    opts.note ?? 'Hello, buy now',
    '--b1--',
    '',
  ].join('\r\n');
}
