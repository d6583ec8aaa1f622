// Roles panel: every role with its operations, creating a custom role, and
// deleting one. The operation picker is built from the Full Control role's
// map, so it offers exactly the operations and sub-options authd knows.

import * as api from './api.js';
import { $, $$, h, fill, table, badge, onSubmit, note, actionButton, showListError, value } from './ui.js';

const card = () => $('#roles-list').closest('.card');

function describe(operations) {
  const types = Object.entries(operations || {});
  if (types.length === 0) return h('span', { class: 'muted' }, 'no operations');
  const count = types.reduce((n, [, ops]) => n + Object.keys(ops).length, 0);
  return h('details', {},
    h('summary', {}, `${count} operations`),
    h('ul', {}, types.map(([type, ops]) => h('li', {}, h('strong', {}, type), ': ',
      Object.entries(ops).map(([op, subs]) => (subs.length ? `${op} (${subs.join(', ')})` : op)).join('; ')))));
}

function renderPicker(full) {
  fill($('#role-ops'), Object.entries(full.operations).map(([type, ops]) =>
    h('div', { class: 'ops-type' },
      h('h5', {}, type),
      h('div', { class: 'ops-list' }, Object.entries(ops).map(([op, subs]) => {
        const id = `op-${type}-${op}`.replace(/[^A-Za-z0-9]+/g, '-');
        const box = h('input', { id, type: 'checkbox', dataset: { type, op } });
        return h('div', {},
          h('div', { class: 'field check' }, box, h('label', { for: id }, op)),
          subs.length === 0 ? null : h('div', { class: 'subops' }, subs.map((sub) => {
            const sid = `${id}-${sub}`.replace(/[^A-Za-z0-9]+/g, '-');
            // a sub-option only means something with its operation
            const subBox = h('input', { id: sid, type: 'checkbox', dataset: { sub, parent: id }, onchange: (e) => { if (e.target.checked) box.checked = true; } });
            return h('div', { class: 'field check' }, subBox, h('label', { for: sid }, sub));
          })));
      })))));
}

function pickedOperations() {
  const ops = {};
  for (const box of $$('#role-ops input[data-op]')) {
    if (!box.checked) continue;
    const subs = $$(`#role-ops input[data-parent="${box.id}"]`).filter((s) => s.checked).map((s) => s.dataset.sub);
    (ops[box.dataset.type] ||= {})[box.dataset.op] = subs;
  }
  return ops;
}

async function load() {
  showListError(card(), null);
  const roles = await api.get('/roles');
  fill($('#roles-list'), table([
    { title: 'Role', cell: (r) => r.name },
    { title: 'Id', cell: (r) => h('code', {}, r.id) },
    { title: 'Kind', cell: (r) => (r.system_role ? badge('built-in') : badge('custom', 'on')) },
    { title: 'Operations', cell: (r) => describe(r.operations) },
    {
      title: '',
      cell: (r) => (r.system_role ? '' : actionButton('Delete', card(), async () => {
        if (!window.confirm(`Delete role ${r.name}?`)) return;
        await api.del(api.path`/roles/${r.id}`);
        await load();
      }, 'danger small')),
    },
  ], roles));
  const full = roles.find((r) => r.id === 'fullcontrol');
  if (full && $$('#role-ops input').length === 0) renderPicker(full);
}

export default {
  id: 'roles',
  title: 'Roles',
  admin: true,
  init() {
    onSubmit($('#role-create'), async (form) => {
      const role = await api.post('/roles', { name: value(form, 'name').trim(), operations: pickedOperations() });
      form.reset();
      note(form, `Created role "${role.name}".`);
      await load();
    });
  },
  async show() {
    try {
      await load();
    } catch (err) {
      showListError(card(), err);
    }
  },
};
