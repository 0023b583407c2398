import { html, type SafeHtml } from '../customer/html.js';
import type { DeskOperator } from './DeskAccess.js';

/** A time as the desk shows it: UTC, to the second, machine-readable in `datetime`. */
export function when(d: Date | undefined): SafeHtml | string {
  if (!d) return '—';
  const iso = d.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

/**
 * The desk's page shell: one stylesheet and one optional script from
 * /static/ (CSP 'self'). `live` is the part the script re-reads when the
 * server says something changed; `actions` (the forms) stay outside it, so
 * a live update never wipes what an operator is typing. Everything works
 * without the script.
 */
export function deskLayout(title: string, operator: DeskOperator, live: SafeHtml, extra: { notice?: SafeHtml; actions?: SafeHtml } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${title} · Cordon desk</title>
<link rel="stylesheet" href="/static/desk.css">
<script src="/static/desk.js" defer></script>
</head>
<body>
<header><a href="/">Queue</a> <a href="/approvals">Approvals</a> <a href="/audit">Audit</a> <a href="/health">Health</a> <a href="/hosts">Hosts</a> <span class="who">${operator.name} (${operator.role.replace(/_/g, ' ')})</span> <span id="live-status" class="live-status"></span></header>
${extra.notice ?? ''}
<main id="live">
${live}
</main>
${extra.actions ?? ''}
</body>
</html>
`.value;
}

/** A short page for a refusal or an error: what happened, in the desk's words, and the way back. */
export function deskMessage(title: string, text: string, back: string): string {
  return html`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title} · Cordon desk</title><link rel="stylesheet" href="/static/desk.css"></head>
<body><h1>${title}</h1><p class="error">${text}</p><p><a href="${back}">Back</a></p></body>
</html>
`.value;
}
