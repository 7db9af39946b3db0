// The message line (results and faults in words) and the confirmation dialog.

// say shows the outcome of an action: ok, or an error (an APIError's code and words).
export function say(text, isError) {
  const m = document.getElementById('message');
  m.textContent = text;
  m.className = isError ? 'message error' : 'message ok';
  m.hidden = false;
}

// banner shows (text) or hides (null) a problem with the live updates.
export function banner(text) {
  const b = document.getElementById('banner');
  b.textContent = text || '';
  b.hidden = !text;
}

// ask opens the confirmation dialog. reason: 'required', 'optional' or absent. It resolves to
// {reason} when confirmed, null when cancelled.
export function ask({title, text, reason, danger, ok}) {
  const d = document.getElementById('confirm');
  const area = document.getElementById('confirm-reason');
  const label = document.getElementById('confirm-reason-label');
  const err = document.getElementById('confirm-error');
  const okButton = document.getElementById('confirm-ok');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  label.hidden = !reason;
  label.firstChild.textContent = reason === 'required' ? 'Reason (required) ' : 'Reason (optional) ';
  area.value = '';
  err.hidden = true;
  okButton.textContent = ok || 'Confirm';
  okButton.className = danger ? 'danger' : 'primary';
  return new Promise((resolve) => {
    const form = document.getElementById('confirm-form');
    const cancel = document.getElementById('confirm-cancel');
    const done = (v) => {
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      d.removeEventListener('cancel', onCancel);
      d.close();
      resolve(v);
    };
    const onSubmit = (ev) => {
      ev.preventDefault();
      if (reason === 'required' && !area.value.trim()) {
        err.textContent = 'Give a reason: it is recorded in the tracking trail.';
        err.hidden = false;
        return;
      }
      done({reason: area.value});
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      done(null);
    };
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    d.addEventListener('cancel', onCancel);
    d.showModal();
    (reason ? area : okButton).focus();
  });
}
