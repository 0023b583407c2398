import { html, type SafeHtml } from './html.js';

/** The page shell: one stylesheet and one optional script, both from /static/ under the public URL's path. */
export function layout(basePath: string, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${title}</title>
<link rel="stylesheet" href="${basePath}/static/page.css">
<script src="${basePath}/static/page.js" defer></script>
</head>
<body>
${body}
</body>
</html>
`.value;
}

/**
 * The one answer to every token that opens nothing (malformed, unknown,
 * revoked, expired, another customer's): the same bytes, so a prober learns
 * nothing from the difference.
 */
export function notFoundPage(basePath: string): string {
  return layout(
    basePath,
    'Link not valid',
    html`<h1>This link does not open a page</h1>
<p>The link may be mistyped, replaced by a newer one, or expired. Please use the link in the latest mail about the incident, or reply to that mail.</p>`,
  );
}

/** A short page that says what happened and what to do (403, 413, 429, 500). */
export function messagePage(basePath: string, title: string, text: string, back?: string): string {
  return layout(basePath, title, html`<h1>${title}</h1>
<p>${text}</p>
${back ? html`<p><a href="${back}">Back to the incident page</a></p>` : ''}`);
}
