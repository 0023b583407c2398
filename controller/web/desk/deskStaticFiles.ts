/**
 * The desk's stylesheet and its one optional script, served from memory
 * under /static/ (the CSP allows only 'self': no inline style or script, no
 * third-party resource). Kept as strings so the build needs no copy step.
 *
 * The script is the live update: it listens on GET /events (Server-Sent
 * Events) and, on each `change`, re-reads the page it is on and swaps in
 * its #live part; the forms sit outside that part, so what an operator is
 * typing survives. Without the script the pages work and simply do not
 * update by themselves.
 */
export const DESK_STATIC_FILES: Record<string, { type: string; body: string }> = {
  'desk.css': {
    type: 'text/css; charset=utf-8',
    body: `
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 1rem auto; padding: 0 1rem; color: #1b1b1b; line-height: 1.4; }
header { display: flex; gap: 1.5rem; align-items: baseline; border-bottom: 1px solid #ccc; padding-bottom: .4rem; }
.who { color: #555; } .live-status { color: #777; font-size: .85rem; margin-left: auto; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 1.6rem; border-bottom: 1px solid #ddd; } h3 { font-size: 1rem; }
table { border-collapse: collapse; } th, td { text-align: left; vertical-align: top; padding: .2rem .8rem .2rem 0; }
table.queue td, table.history td { border-top: 1px solid #eee; }
.why { font-weight: 600; } .unseen { color: #b26b00; }
pre { white-space: pre-wrap; word-break: break-word; background: #f4f4f4; padding: .6rem; max-height: 24rem; overflow: auto; }
.error { padding: .7rem 1rem; border-left: .35rem solid #b00020; background: #fde8ea; margin: 1rem 0; }
.done { padding: .7rem 1rem; border-left: .35rem solid #1a7f37; background: #e8f5ec; margin: 1rem 0; }
form.decide { border: 1px solid #ccc; padding: .5rem .8rem; margin: .6rem 0; }
form.decide input[type=text] { width: 30rem; max-width: 100%; }
`,
  },
  'desk.js': {
    type: 'text/javascript; charset=utf-8',
    body: `
(function () {
  'use strict';
  if (!window.EventSource || !window.fetch || !window.DOMParser) return;
  var status = document.getElementById('live-status');
  var say = function (text) { if (status) status.textContent = text; };
  var busy = false, again = false;
  var refresh = function () {
    if (busy) { again = true; return; }
    busy = true;
    fetch(location.pathname + location.search, { credentials: 'same-origin', cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(String(r.status))); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, 'text/html').getElementById('live');
        var live = document.getElementById('live');
        if (fresh && live) live.innerHTML = fresh.innerHTML;
        say('live, updated ' + new Date().toLocaleTimeString());
      })
      .catch(function () { say('update failed; reload the page'); })
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  };
  var source = new EventSource('/events');
  source.addEventListener('open', function () { say('live'); });
  source.addEventListener('change', refresh);
  source.addEventListener('error', function () { say('live updates interrupted; retrying'); });
})();
`,
  },
};
