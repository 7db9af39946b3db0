// Instance page: identity, state, bookmarks, pending timer, variables and the tracking trail as
// a timeline, polled every second; the actions the caller's role allows.
import {poll, post} from './api.js';
import {ask, banner, say} from './dialog.js';
import {el, clear, badge, countdown, identity, instanceLink, searchLink, span, when} from './util.js';

// The MS-WFIM actions, in the order of the buttons: what each asks before it is sent.
const actions = [
  {op: 'Run', text: 'Run the instance (MS-WFIM Run).'},
  {op: 'Suspend', reason: 'required', text: 'Suspend the instance: it is held (its timers too) until it is unsuspended.'},
  {op: 'Unsuspend', text: 'Unsuspend the instance: it goes on; timers that fell due meanwhile fire now.'},
  {op: 'Cancel', danger: true, confirm: true, text: 'Cancel the instance: its cancellation handlers run and it completes as Canceled. This cannot be undone.'},
  {op: 'Terminate', danger: true, reason: 'optional', text: 'Terminate the instance: it completes as Terminated at once, without running any handler. This cannot be undone.'},
  {op: 'Abandon', danger: true, reason: 'optional', text: 'Abandon the instance: what it did since it last persisted is discarded, and it goes on from there.'},
];

export function instance(main, session, id) {
  const head = el('div', {id: 'instance-head'});
  const buttons = actions.filter((a) => session.allowed[a.op]).map((a) =>
    el('button', {type: 'button', 'data-op': a.op, class: a.danger ? 'danger' : '', onclick: () => act(a)}, a.op));
  const bar = buttons.length ? el('div', {id: 'actions', class: 'actions'}, buttons) : null;
  const details = el('div', {id: 'details'});
  const resume = session.allowed.ResumeBookmark ? resumeForm() : null;
  const timeline = el('ol', {id: 'timeline', class: 'timeline'});
  // Activity records are the engine's step by step; the trail of who did what is the others.
  const showActivities = el('input', {type: 'checkbox', id: 'show-activities'});
  let last = null;
  showActivities.addEventListener('change', () => last && timelineOf(last.records, last.recordsOmitted));
  clear(main, head, bar, el('div', {class: 'columns'}, details, resume),
    el('div', {class: 'row'}, el('h2', {}, 'Tracking'), el('label', {}, showActivities, ' show activity records')), timeline);

  const act = async (a) => {
    let reason = '';
    if (a.reason || a.confirm) {
      const r = await ask({title: `${a.op} instance?`, text: a.text, reason: a.reason, danger: a.danger, ok: a.op});
      if (!r) return;
      reason = r.reason;
    }
    try {
      const body = a.reason && reason.trim() ? {reason} : {};
      const r = await post(`/ui/api/instances/${encodeURIComponent(id)}/actions/${a.op}`, body);
      say(r.message);
    } catch (e) {
      say(e.words || e.message, true);
    }
  };

  function resumeForm() {
    const select = el('select', {id: 'resume-bookmark'});
    const payload = el('textarea', {id: 'resume-payload', rows: 4, placeholder: '{"approved": true}', spellcheck: 'false'});
    const form = el('form', {id: 'resume', class: 'panel'}, el('h2', {}, 'Resume a bookmark'),
      el('label', {}, 'Bookmark ', select), el('label', {}, 'Payload (JSON, optional)', payload),
      el('div', {class: 'buttons'}, el('button', {type: 'submit', class: 'primary', id: 'resume-submit'}, 'Resume')));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {bookmark: select.value};
      if (payload.value.trim()) {
        try {
          body.payload = JSON.parse(payload.value);
        } catch (e) {
          say(`The payload is not valid JSON: ${e.message}`, true);
          return;
        }
      }
      try {
        const r = await post(`/ui/api/instances/${encodeURIComponent(id)}/resume`, body);
        say(r.message);
        payload.value = '';
      } catch (e) {
        say(e.words || e.message, true);
      }
    });
    form.update = (bookmarks) => {
      const keep = select.value;
      clear(select, bookmarks.map((b) => el('option', {value: b, selected: b === keep}, b)));
      form.hidden = bookmarks.length === 0;
    };
    return form;
  }

  poll(`/ui/api/instances/${encodeURIComponent(id)}`, 1000, render, (e) => {
    if (e && e.status === 404) {
      clear(head, el('h1', {}, 'Instance'), el('p', {class: 'error', id: 'not-found'}, e.words));
      if (bar) bar.hidden = true;
    } else banner(e && `Live updates stopped: ${e.words || e.message} (retrying)`);
  });

  function render(r) {
    const {instance: i, children, records, recordsOmitted} = r;
    last = r;
    document.title = `${i.definition.name} ${i.id} · wimp`;
    clear(head, el('h1', {}, identity(i.definition)),
      el('p', {}, el('code', {id: 'instance-id'}, i.id), ' ', badge(i.state, i.completion),
        i.currentState ? el('span', {id: 'current-state', class: 'machine'}, `in state ${i.currentState}`) : null));
    const idle = records.length ? records[records.length - 1].time : i.updated;
    const rows = [
      ['State', el('span', {id: 'state'}, badge(i.state, i.completion))],
      i.currentState && ['State machine', i.currentState],
      i.correlationKey && ['Correlation key', el('code', {id: 'correlation-key'}, i.correlationKey)],
      i.parent && ['Started by', el('span', {id: 'parent'}, instanceLink(i.parent), ' (InvokeWorkflow)')],
      children > 0 && ['Child instances', el('span', {id: 'children'},
        searchLink({parent: i.id}, `${children} started by this instance (InvokeWorkflow)`))],
      i.properties && ['Promoted', el('span', {id: 'properties'},
        Object.entries(i.properties).map(([k, v]) => el('code', {class: 'property'}, `${k}=${v}`)))],
      i.suspensionReason && ['Suspended because', el('span', {id: 'suspension-reason'}, i.suspensionReason)],
      i.suspensionException && ['Suspending exception', i.suspensionException],
      i.completionReason && ['Completion reason', i.completionReason],
      i.completionException && ['Completing exception', i.completionException],
      ['Waiting on', i.bookmarks.length
        ? el('span', {id: 'bookmarks'}, i.bookmarks.map((b) => el('code', {class: 'bookmark'}, b)), ' since ', when(idle))
        : el('span', {id: 'bookmarks', class: 'muted'}, 'no bookmark')],
      ['Timer', i.pendingTimer
        ? el('span', {id: 'timer'}, new Date(i.pendingTimer).toLocaleString(), ' — ',
          countdown(i.pendingTimer, 'countdown'))
        : el('span', {class: 'muted', id: 'timer'}, 'none pending')],
      i.executionStatus && ['Execution', i.executionStatus],
      ['Created', when(i.created)], ['Last persisted', when(i.updated)],
    ].filter(Boolean);
    const vars = i.variables ? Object.entries(i.variables) : [];
    clear(details, el('table', {class: 'facts'}, el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v))))),
      el('h2', {}, 'Variables'),
      vars.length ? el('table', {id: 'variables', class: 'facts'}, el('tbody', {}, vars.map(([k, v]) =>
        el('tr', {}, el('th', {}, k), el('td', {}, el('pre', {}, JSON.stringify(v, null, 2)))))))
        : el('p', {class: 'muted'}, 'None persisted.'));
    if (resume) resume.update(i.state === 'Active' ? i.bookmarks : []);
    for (const b of document.querySelectorAll('#actions button')) b.disabled = i.state === 'Completed';
    timelineOf(records, recordsOmitted);
  }

  function timelineOf(records, omitted) {
    const items = [];
    if (omitted) items.push(el('li', {class: 'muted'}, `${omitted} earlier records are not shown (wimpctl track shows them all).`));
    let prev = null;
    for (const r of records) {
      if (r.kind === 'Activity' && r.name !== 'WriteLine' && !showActivities.checked) continue;
      if (prev) {
        const waited = (new Date(r.time) - new Date(prev.time)) / 1000;
        if (waited >= 1) items.push(el('li', {class: 'gap'}, `waited ${span(waited)}`));
      }
      items.push(el('li', {class: `rec kind-${r.kind}`, 'data-seq': r.seq, 'data-name': r.name},
        el('span', {class: 'when'}, when(r.time)),
        el('span', {class: 'what'}, el('strong', {}, r.name), ` ${r.kind.toLowerCase()}`, r.activity ? ` · ${r.activity}` : ''),
        r.principal ? el('span', {class: 'who'}, `by ${r.principal}`) : null,
        r.reason ? el('span', {class: 'reason'}, `“${r.reason}”`) : null,
        r.data ? el('code', {class: 'data'}, r.data) : null));
      prev = r;
    }
    clear(timeline, items);
  }
}
