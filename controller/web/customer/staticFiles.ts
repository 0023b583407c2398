/**
 * The page's stylesheet and its one optional script, served from memory
 * under /static/ (the CSP allows only 'self', no inline style or script).
 * Kept as strings so the build needs no copy step. The page works fully
 * without the script: it only adds the browser's local time next to each
 * UTC time and sends the browser's UTC offset with a plan's date.
 */
export const STATIC_FILES: Record<string, { type: string; body: string }> = {
  'page.css': {
    type: 'text/css; charset=utf-8',
    body: `
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 1.5rem auto; padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; } th, td { text-align: left; vertical-align: top; padding: .2rem .8rem .2rem 0; }
pre { white-space: pre-wrap; word-break: break-word; background: #f4f4f4; padding: .6rem; max-height: 24rem; overflow: auto; }
.banner { padding: .7rem 1rem; border-left: .35rem solid #b26b00; background: #fff4e0; margin: 1rem 0; }
.error { padding: .7rem 1rem; border-left: .35rem solid #b00020; background: #fde8ea; margin: 1rem 0; }
.done { padding: .7rem 1rem; border-left: .35rem solid #1a7f37; background: #e8f5ec; margin: 1rem 0; }
form.answer { border: 1px solid #ccc; padding: .8rem 1rem; margin: 1rem 0; }
form.answer textarea { width: 100%; min-height: 6rem; box-sizing: border-box; }
label { display: block; margin: .4rem 0 .2rem; }
button { margin-top: .6rem; padding: .4rem 1rem; }
.local { color: #555; }
`,
  },
  'page.js': {
    type: 'text/javascript; charset=utf-8',
    body: `
(function () {
  'use strict';
  var pad = function (n) { return (n < 10 ? '0' : '') + n; };
  var offset = function (d) {
    var m = -d.getTimezoneOffset();
    var s = m < 0 ? '-' : '+';
    m = Math.abs(m);
    return s + pad(Math.floor(m / 60)) + ':' + pad(m % 60);
  };
  var times = document.querySelectorAll('time[datetime]');
  for (var i = 0; i < times.length; i++) {
    var d = new Date(times[i].getAttribute('datetime'));
    if (isNaN(d.getTime())) continue;
    var span = document.createElement('span');
    span.className = 'local';
    span.textContent = ' (your time: ' + d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ' UTC' + offset(d) + ')';
    times[i].parentNode.insertBefore(span, times[i].nextSibling);
  }
  var now = new Date();
  var tz = document.querySelectorAll('input[name="tz"]');
  for (var j = 0; j < tz.length; j++) tz[j].value = offset(now);
  var notes = document.querySelectorAll('[data-tz-note]');
  for (var k = 0; k < notes.length; k++) notes[k].textContent = '(in your time zone, UTC' + offset(now) + ')';
})();
`,
  },
};
