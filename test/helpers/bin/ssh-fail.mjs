// A bounded loop of SSH logins that fail: each connects, offers a user the
// server does not have and a wrong password, and disconnects. What a
// password-guessing bot does. Prints one JSON line with how many connections
// got as far as authentication and how many were refused or timed out.
//   node ssh-fail.mjs HOST PORT COUNT
import { Client } from 'ssh2';

const [host, port, count] = process.argv.slice(2);
const n = Math.min(Number(count), 100);
const tally = { failed: 0, refused: 0, other: 0 };
const once = () =>
  new Promise((resolve) => {
    const c = new Client();
    const timer = setTimeout(() => done('other'), 3000);
    let finished = false;
    function done(what) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      tally[what]++;
      c.end();
      resolve();
    }
    c.on('ready', () => done('other'));
    c.on('error', (err) => done(err.level === 'client-authentication' ? 'failed' : err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? 'refused' : 'other'));
    c.connect({ host, port: Number(port), username: 'nosuchuser', password: 'guess', tryKeyboard: false, readyTimeout: 2500, hostVerifier: () => true });
  });
for (let i = 0; i < n; i++) await once();
process.stdout.write(JSON.stringify(tally) + '\n');
