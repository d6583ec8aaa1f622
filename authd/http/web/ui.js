// Small DOM helpers the panels share: building elements (text only, never
// HTML, so names from the API cannot inject markup), tables, form handling,
// and showing the API's errors next to the field they name.

export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (typeof v === 'boolean' || k === 'value') el[k] = v;
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function badge(text, kind) {
  return h('span', { class: `badge ${kind || ''}` }, text);
}

// columns: [{ title, cell(row) }]; an empty list says so instead of a bare header.
export function table(columns, rows, empty = 'Nothing here yet.') {
  if (rows.length === 0) return h('p', { class: 'muted' }, empty);
  return h('table', {},
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c.title)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', {}, c.cell(r)))))));
}

export function fill(container, ...children) {
  container.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

export function details(dl, pairs) {
  fill(dl, pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// The API names nested fields as "a.0.b" or "a[0].b"; inputs carry the second form.
function canonicalField(name) {
  return String(name).replace(/\.(\d+)(?=\.|$)/g, '[$1]');
}

function fieldElement(form, name) {
  const want = canonicalField(name);
  return $$('[data-field], [name]', form).find((el) => (el.dataset.field || el.name) === want) || null;
}

function alertOf(container) {
  return $(':scope > .form-alert', container) || $('.form-alert', container);
}

export function clearErrors(form) {
  for (const e of $$('.field-error', form)) e.remove();
  for (const el of $$('[aria-invalid]', form)) {
    el.removeAttribute('aria-invalid');
    el.removeAttribute('aria-errormessage');
  }
  const alert = alertOf(form);
  if (alert) {
    alert.textContent = '';
    alert.hidden = true;
  }
}

// Shows err in the form's alert region, and next to its field when the API named one.
export function showError(form, err) {
  const alert = alertOf(form);
  if (alert) {
    alert.textContent = err.message;
    alert.hidden = false;
  }
  const el = err.field ? fieldElement(form, err.field) : null;
  if (!el) return;
  const wrap = el.closest('.field, fieldset') || el.parentElement;
  const id = `${el.id || 'field'}-error`;
  const msg = h('p', { class: 'field-error', id }, err.message);
  wrap.append(msg);
  el.setAttribute('aria-invalid', 'true');
  el.setAttribute('aria-errormessage', id);
}

export function note(form, text) {
  const n = $('.form-note', form);
  if (n) n.textContent = text;
}

export function showListError(card, err) {
  const alert = $('.list-alert', card);
  if (!alert) return;
  alert.textContent = err ? err.message : '';
  alert.hidden = !err;
}

// Runs load() with the card's list alert cleared, and shows its failure there.
export async function loadList(card, load) {
  showListError(card, null);
  try {
    await load();
  } catch (err) {
    showListError(card, err);
  }
}

// Runs handler(form, submitter) on submit with the form's errors cleared and its
// buttons disabled meanwhile; an error lands in the form's alert region.
export function onSubmit(form, handler) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    note(form, '');
    const buttons = $$('button', form);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await handler(form, ev.submitter);
    } catch (err) {
      showError(form, err);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

// A button inside a list: disables itself while its action runs and reports
// a failure in the list's alert region.
export function actionButton(label, card, action, kind = 'secondary small') {
  const b = h('button', { type: 'button', class: kind });
  b.textContent = label;
  b.addEventListener('click', async () => {
    b.disabled = true;
    showListError(card, null);
    try {
      await action();
    } catch (err) {
      showListError(card, err);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

export function value(form, name) {
  const el = form.elements.namedItem(name);
  if (!el) return undefined;
  return el.type === 'checkbox' ? el.checked : el.value;
}

export function formatTime(s) {
  if (!s) return '–';
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? String(s) : d.toLocaleString();
}

// Forward paging with the API's cursors, and a stack of earlier cursors for "Previous".
export class Pager {
  constructor(container, load) {
    this.container = container;
    this.load = load;
    this.reset();
  }

  reset() {
    this.history = [];
    this.current = '';
    this.next = '';
  }

  render(next) {
    this.next = next || '';
    const prev = h('button', { type: 'button', class: 'secondary small', disabled: this.history.length === 0 }, 'Previous page');
    const nextB = h('button', { type: 'button', class: 'secondary small', disabled: !this.next }, 'Next page');
    prev.addEventListener('click', () => {
      this.current = this.history.pop() ?? '';
      this.load();
    });
    nextB.addEventListener('click', () => {
      this.history.push(this.current);
      this.current = this.next;
      this.load();
    });
    fill(this.container, prev, nextB, h('span', { class: 'muted' }, `page ${this.history.length + 1}`));
  }
}
