// Overview: counts by state and by definition, recently suspended instances, bulk jobs in
// progress, the store's health; polled every few seconds.
import {poll} from './api.js';
import {banner} from './dialog.js';
import {el, clear, identity, instanceLink, searchLink, number, when} from './util.js';

export function overview(main) {
  const body = el('div', {id: 'overview'});
  clear(main, el('h1', {}, 'Overview'), body);
  poll('/ui/api/overview', 3000, (o) => clear(body, render(o)), (e) => banner(e && `Live updates stopped: ${e.words || e.message} (retrying)`));
}

function render(o) {
  const health = o.health.ok
    ? el('p', {id: 'health', class: 'health ok'}, 'Store: healthy (the host renewed its lease, a real write)')
    : el('p', {id: 'health', class: 'health bad'}, `Store: cannot be written: ${o.health.error}`);
  const states = el('div', {id: 'states', class: 'cards'},
    el('a', {class: 'card', href: '/ui/search'}, el('span', {class: 'n', 'data-count': 'total'}, number(o.total)), el('span', {}, 'instances')),
    o.states.map((s) => el('a', {class: `card state-${s.state}`, href: `/ui/search?state=${s.state}`},
      el('span', {class: 'n', 'data-count': s.state}, number(s.count)), el('span', {}, s.state))));
  const defs = table(['Definition', 'Version', 'Instances'], o.definitions.map((d) => [
    searchLink({definition: d.definition.name, ...(d.definition.package && {package: d.definition.package}), version: d.definition.version},
      `${d.definition.package ? d.definition.package + '.' : ''}${d.definition.name}`),
    d.definition.version, number(d.count)]), 'definitions');
  const exceptions = o.suspendedExceptions.length
    ? el('ul', {id: 'exceptions', class: 'plain'}, o.suspendedExceptions.map((x) => el('li', {},
      x.exception ? searchLink({state: 'Suspended', exception: x.exception}, x.exception) : el('span', {class: 'muted'}, 'no exception (suspended by an operator)'),
      `: ${number(x.count)}`)))
    : el('p', {class: 'muted'}, 'No instance is suspended.');
  const recent = o.recentlySuspended.length
    ? table(['Instance', 'Definition', 'Reason', 'Exception', 'Suspended'], o.recentlySuspended.map((i) => [
      instanceLink(i.id), identity(i.definition), i.suspensionReason || '', i.suspensionException || '', when(i.updated)]), 'recent')
    : el('p', {class: 'muted'}, 'None.');
  const jobs = o.bulkJobs.length ? el('div', {id: 'bulk-jobs'}, o.bulkJobs.map(job)) : el('p', {class: 'muted'}, 'No bulk job is running.');
  return [
    health, states,
    el('div', {class: 'columns'},
      el('section', {}, el('h2', {}, 'By definition'), defs),
      el('section', {}, el('h2', {}, 'Suspended, by exception'), exceptions)),
    el('section', {}, el('h2', {}, 'Recently suspended'), recent),
    el('section', {}, el('h2', {}, 'Bulk jobs in progress'), jobs),
  ];
}

export function job(j) {
  return el('div', {class: 'job', 'data-job': j.id, 'data-status': j.status},
    el('p', {}, el('strong', {}, `${j.operation}${j.dryRun ? ' (dry run)' : ''}`), ' of ',
      searchLink(new URLSearchParams(j.search), j.search || 'every instance'), ` by ${j.principal}, started `, when(j.created)),
    el('progress', {max: Math.max(j.estimate, j.done, 1), value: j.done}),
    el('p', {class: 'job-status'}, `${j.status}: ${number(j.done)} of about ${number(j.estimate)} handled, ${number(j.ok)} ok`,
      Object.entries(j.faults).map(([k, n]) => `, ${number(n)} ${k}`).join(''), j.error ? ` — ${j.error}` : ''));
}

export function table(heads, rows, id) {
  return el('table', {id},
    el('thead', {}, el('tr', {}, heads.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))));
}
