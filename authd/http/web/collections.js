// Collections panel: the collection tree (GET /collections is flat, with
// paths), creating a child collection, and deleting one.

import * as api from './api.js';
import { $, h, fill, table, badge, onSubmit, note, actionButton, showListError, value } from './ui.js';

const BUILT_IN = new Set(['root', 'system', 'shared', 'private']);
const card = () => $('#collections-list').closest('.card');

function depth(path) {
  return path === '/' ? 0 : path.split('/').length - 1;
}

export async function collectionsByPath() {
  const list = await api.get('/collections');
  return list.sort((a, b) => a.path.localeCompare(b.path));
}

async function load() {
  showListError(card(), null);
  const list = await collectionsByPath();
  fill($('#collections-list'), table([
    {
      title: 'Collection',
      cell: (c) => {
        const name = h('span', {}, c.path === '/' ? '/ (root)' : c.name);
        name.style.paddingLeft = `${depth(c.path) * 1.2}rem`;
        return name;
      },
    },
    { title: 'Path', cell: (c) => h('code', {}, c.path) },
    { title: 'Id', cell: (c) => h('code', {}, c.id) },
    {
      title: '',
      cell: (c) => (BUILT_IN.has(c.id) ? badge('built-in') : actionButton('Delete', card(), async () => {
        if (!window.confirm(`Delete collection ${c.path}?`)) return;
        await api.del(api.path`/collections/${c.id}`);
        await load();
      }, 'danger small')),
    },
  ], list));
  const parent = $('#collection-create-parent');
  const keep = parent.value || 'shared';
  fill(parent, list.map((c) => h('option', { value: c.id, selected: c.id === keep }, c.path)));
}

export default {
  id: 'collections',
  title: 'Collections',
  admin: true,
  init() {
    onSubmit($('#collection-create'), async (form) => {
      const c = await api.post('/collections', { name: value(form, 'name').trim(), parent_id: value(form, 'parent_id') });
      form.elements.namedItem('name').value = '';
      note(form, `Created ${c.path}.`);
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
