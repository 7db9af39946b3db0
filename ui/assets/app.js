// The dashboard's entry point: who is signed in, then the view the path names.
import {getSession} from './api.js';
import {banner} from './dialog.js';
import {el, clear} from './util.js';
import {overview} from './overview.js';
import {search} from './search.js';
import {instance} from './instance.js';

const routes = [
  [/^\/ui\/$/, 'overview', () => overview],
  [/^\/ui\/search$/, 'search', () => search],
  [/^\/ui\/instance\/([^/]+)$/, null, () => instance],
];

async function start() {
  const main = document.getElementById('main');
  let s;
  try {
    s = await getSession();
  } catch (e) {
    clear(main, el('p', {class: 'error'}, `The dashboard cannot start: ${e.words || e.message}`));
    return;
  }
  clear(document.getElementById('who'), `${s.user} · `, el('span', {id: 'role', class: `role role-${s.role}`}, s.role));
  for (const [re, nav, view] of routes) {
    const m = location.pathname.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('current', a.dataset.nav === nav);
    try {
      await view()(main, s, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      clear(main, el('p', {class: 'error'}, e.words || e.message));
    }
    return;
  }
  banner(`No dashboard page at ${location.pathname}.`);
}

start();
