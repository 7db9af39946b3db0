// DOM and time helpers. Text goes in through textContent only (never innerHTML), so nothing an
// instance holds (reasons, variables, payloads) can become markup.

// el builds an element: el('a', {href: '/ui/', class: 'x'}, 'text', child, ...). Attributes
// whose value is null, undefined or false are left out; 'on' + event names take handlers.
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

export function clear(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

const units = [['d', 86400], ['h', 3600], ['min', 60], ['s', 1]];

// span is a duration in words, at most two units: "2 h 5 min", "40 s".
export function span(seconds) {
  let s = Math.round(Math.abs(seconds));
  if (s < 1) return 'less than a second';
  const parts = [];
  for (const [name, size] of units) {
    if (s >= size && parts.length < 2) {
      parts.push(`${Math.floor(s / size)} ${name}`);
      s %= size;
    } else if (parts.length) break;
  }
  return parts.join(' ');
}

// relative is a time relative to now: "3 min ago", "in 20 s".
export function relative(iso) {
  const d = (new Date(iso).getTime() - Date.now()) / 1000;
  if (Math.abs(d) < 1) return 'just now';
  return d < 0 ? `${span(d)} ago` : `in ${span(d)}`;
}

// when is a time element showing a time relative to now, with the exact time as its title; the
// ticker keeps it current.
export function when(iso) {
  if (!iso) return el('span', {class: 'muted'}, '—');
  return el('time', {datetime: iso, title: new Date(iso).toLocaleString(), 'data-relative': ''}, relative(iso));
}

function untilText(iso) {
  const d = (new Date(iso).getTime() - Date.now()) / 1000;
  return d > 0 ? `fires in ${span(d)}` : `due ${span(d)} ago`;
}

// countdown is a time element counting down to iso; the ticker keeps it current.
export function countdown(iso, id) {
  return el('time', {datetime: iso, 'data-countdown': '', id}, untilText(iso));
}

// Every second: relative times and countdowns follow the clock without a reload.
setInterval(() => {
  for (const t of document.querySelectorAll('[data-relative]')) t.textContent = relative(t.getAttribute('datetime'));
  for (const t of document.querySelectorAll('[data-countdown]')) t.textContent = untilText(t.getAttribute('datetime'));
}, 1000);

export function badge(state, completion) {
  return el('span', {class: `badge state-${state}`, 'data-state': state}, completion ? `${state} · ${completion}` : state);
}

export function identity(d) {
  return `${d.package ? d.package + '.' : ''}${d.name} ${d.version}`;
}

export function instanceLink(id) {
  return el('a', {href: `/ui/instance/${encodeURIComponent(id)}`, class: 'id'}, id);
}

export function searchLink(params, text) {
  return el('a', {href: `/ui/search?${new URLSearchParams(params)}`}, text);
}

export function number(n) {
  return Number(n).toLocaleString('en');
}
