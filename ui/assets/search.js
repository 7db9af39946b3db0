// Search: every filter of QueryInstances, paged; the URL holds the query, so a search can be
// shared. An admin can start a bulk job over what the search selects.
import {poll, post} from './api.js';
import {ask, banner, say} from './dialog.js';
import {el, clear, badge, identity, instanceLink, number, when} from './util.js';
import {job, table} from './overview.js';

const text = (name, label, list) => ({name, label, kind: 'text', list});
const fields = [
  {name: 'state', label: 'State', kind: 'select', options: ['Active', 'Suspended', 'Completed']},
  {name: 'completion', label: 'Completion', kind: 'select', options: ['Closed', 'Canceled', 'Terminated', 'Faulted']},
  text('definition', 'Definition', 'definition-names'), text('package', 'Package'),
  text('version', 'Version'), text('versionMin', 'Version from'), text('versionMax', 'Version to'),
  text('exception', 'Exception'), text('reasonContains', 'Reason contains'), text('bookmark', 'Waiting on bookmark'),
  text('correlationKey', 'Correlation key'), text('currentState', 'State machine state'),
  text('parent', 'Started by (parent id)'),
  {name: 'hasParent', label: 'Started by', kind: 'select', options: ['true'], labels: {true: 'another instance'}},
  {name: 'createdAfter', label: 'Created after', kind: 'time'}, {name: 'createdBefore', label: 'Created before', kind: 'time'},
  {name: 'updatedAfter', label: 'Updated after', kind: 'time'}, {name: 'updatedBefore', label: 'Updated before', kind: 'time'},
];
const paging = ['pageSize', 'pageToken'];
const bulkOps = ['Suspend', 'Unsuspend', 'Run', 'Cancel', 'Terminate', 'Abandon'];
const destructive = ['Cancel', 'Terminate', 'Abandon'];
const reasonOf = {Suspend: 'required', Terminate: 'optional', Abandon: 'optional'};

// An RFC 3339 time as a datetime-local input's value (local time), and back.
const toLocal = (iso) => {
  const d = new Date(iso);
  return isNaN(d) ? '' : new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
};
const fromLocal = (v) => new Date(v).toISOString();

export function search(main, session) {
  const params = new URLSearchParams(location.search);
  const form = el('form', {id: 'search-form', class: 'filters'});
  for (const f of fields) {
    const v = params.get(f.name) || '';
    let input;
    if (f.kind === 'select') {
      input = el('select', {name: f.name, id: `f-${f.name}`}, el('option', {value: ''}, 'any'),
        f.options.map((o) => el('option', {value: o, selected: v.toLowerCase() === o.toLowerCase()}, (f.labels || {})[o] || o)));
    } else if (f.kind === 'time') {
      input = el('input', {type: 'datetime-local', name: f.name, id: `f-${f.name}`, value: v && toLocal(v), step: 1});
    } else {
      input = el('input', {type: 'text', name: f.name, id: `f-${f.name}`, value: v, list: f.list});
    }
    form.append(el('label', {}, f.label, input));
  }
  const props = [...params].filter(([k]) => k.startsWith('property.')).map(([k, v]) => `${k.slice(9)}=${v}`).join('\n');
  form.append(el('label', {class: 'wide'}, 'Properties (name=value, one a line)', el('textarea', {name: 'properties', id: 'f-properties', rows: 2, value: props})));
  form.append(el('label', {}, 'Page size', el('select', {name: 'pageSize', id: 'f-pageSize'},
    ['25', '50', '100', '200'].map((n) => el('option', {value: n, selected: (params.get('pageSize') || '50') === n}, n)))));
  form.append(el('div', {class: 'buttons'}, el('button', {type: 'submit', class: 'primary', id: 'search-submit'}, 'Search'),
    el('a', {href: '/ui/search'}, 'Clear')));
  form.append(el('datalist', {id: 'definition-names'}, [...new Set(session.definitions.map((d) => d.name))].map((n) => el('option', {value: n}))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.assign(`/ui/search?${formQuery(form)}`);
  });

  const results = el('div', {id: 'results'}, el('p', {class: 'muted'}, 'Searching…'));
  const bulk = session.allowed.StartBulkOperation ? bulkPanel(params) : null;
  clear(main, el('h1', {}, 'Search'), form, results, bulk);
  poll(`/ui/api/instances?${params}`, 5000, (r) => {
    if (bulk) bulk.dataset.total = r.total;
    clear(results, render(r, params));
  }, (e) => {
    if (e && e.status === 400) clear(results, el('p', {class: 'error', id: 'search-error'}, e.words));
    else banner(e && `Live updates stopped: ${e.words || e.message} (retrying)`);
  });
}

// formQuery is the form's search without its empty fields.
function formQuery(form) {
  const q = new URLSearchParams();
  for (const [k, v] of new FormData(form)) {
    if (!v.trim()) continue;
    if (k === 'properties') {
      for (const line of v.split('\n')) {
        const i = line.indexOf('=');
        if (i > 0) q.append(`property.${line.slice(0, i).trim()}`, line.slice(i + 1).trim());
      }
    } else if (fields.find((f) => f.name === k && f.kind === 'time')) {
      q.set(k, fromLocal(v));
    } else if (!(k === 'pageSize' && v === '50')) {
      q.set(k, v);
    }
  }
  return q;
}

function render(r, params) {
  const next = new URLSearchParams(params);
  next.set('pageToken', r.nextPageToken || '');
  const first = new URLSearchParams(params);
  first.delete('pageToken');
  const rows = r.instances.map((i) => [instanceLink(i.id), identity(i.definition), badge(i.state, i.completion),
    i.currentState || '', i.bookmarks.join(', '), i.suspensionReason || i.completionReason || '',
    i.suspensionException || i.completionException || '', when(i.created), when(i.updated)]);
  return [
    el('p', {id: 'total'}, `${number(r.total)} instance${r.total === 1 ? '' : 's'} match`,
      params.has('pageToken') ? ' (a later page)' : ''),
    rows.length ? table(['Instance', 'Definition', 'State', 'Machine state', 'Waiting on', 'Reason', 'Exception', 'Created', 'Updated'], rows, 'instances')
      : el('p', {class: 'muted'}, 'No instance on this page.'),
    el('p', {class: 'pager'},
      params.has('pageToken') ? el('a', {href: `/ui/search?${first}`, id: 'first-page'}, '« First page') : null, ' ',
      r.nextPageToken ? el('a', {href: `/ui/search?${next}`, id: 'next-page'}, 'Next page »') : null),
  ];
}

function bulkPanel(params) {
  const filter = new URLSearchParams([...params].filter(([k]) => !paging.includes(k)));
  const op = el('select', {id: 'bulk-op'}, bulkOps.map((o) => el('option', {value: o}, o)));
  const dry = el('input', {type: 'checkbox', id: 'bulk-dry'});
  const progress = el('div', {id: 'bulk-progress'});
  const panel = el('section', {id: 'bulk', class: 'panel'}, el('h2', {}, 'Bulk action on every instance this search selects'),
    el('div', {class: 'row'}, el('label', {}, 'Operation ', op), el('label', {}, dry, ' dry run (decide, change nothing)'),
      el('button', {type: 'button', id: 'bulk-start', onclick: () => start()}, 'Start…')), progress);
  const start = async () => {
    const o = op.value;
    const n = Number(panel.dataset.total || 0);
    const a = await ask({
      title: `${o} ${number(n)} instance${n === 1 ? '' : 's'}?`,
      text: `${dry.checked ? 'A dry run decides' : 'A bulk job applies'} ${o} to every instance the search selects ` +
        `(${filter.toString() || 'every instance'}), through the same state table as a single call.` +
        (destructive.includes(o) && !dry.checked ? ' This cannot be undone.' : ''),
      reason: reasonOf[o], danger: destructive.includes(o) && !dry.checked, ok: `Start bulk ${o}`,
    });
    if (!a) return;
    try {
      const r = await post('/ui/api/bulk', {operation: o, reason: reasonOf[o] ? a.reason : '', search: filter.toString(), dryRun: dry.checked});
      say(r.message);
      const stop = poll(`/ui/api/bulk/${r.job.id}`, 1000, (b) => {
        clear(progress, job(b.job));
        if (b.job.status !== 'Running') stop();
      });
    } catch (e) {
      say(e.words || e.message, true);
    }
  };
  return panel;
}
