// Grants panel: who holds which role on which collection, creating a grant
// for a user, an organization or a team (found by name), and deleting one.

import * as api from './api.js';
import { $, h, fill, table, badge, onSubmit, note, actionButton, showListError, value } from './ui.js';
import { collectionsByPath } from './collections.js';

const card = () => $('#grants-list').closest('.card');

// Grants name teams by id only; a team's name is found through its org.
async function teamNames(ids) {
  const names = new Map();
  if (ids.length === 0) return names;
  const orgs = await api.get('/enzi/v0/accounts', { filter: 'orgs', limit: 1000 });
  for (const o of orgs.accounts) {
    const teams = await api.get(api.path`/enzi/v0/accounts/${o.name}/teams`, { limit: 1000 });
    for (const t of teams.teams) names.set(t.id, `${o.name}/${t.name}`);
    if (ids.every((id) => names.has(id))) break;
  }
  return names;
}

function subjectLabel(subject, teams) {
  if (!subject) return '?';
  if (subject.subject_type === 'team') return `team ${teams.get(subject.id) || subject.id}`;
  const name = subject.account ? subject.account.name : subject.id;
  return `${subject.subject_type === 'org' ? 'organization' : subject.subject_type} ${name}`;
}

async function load() {
  showListError(card(), null);
  const [answer, roles, collections] = await Promise.all([api.get('/collectionGrants'), api.get('/roles'), collectionsByPath()]);
  const subjects = new Map(answer.subjects.map((s) => [s.id, s]));
  const teams = await teamNames(answer.subjects.filter((s) => s.subject_type === 'team').map((s) => s.id));
  const roleName = new Map(roles.map((r) => [r.id, r.name]));
  const pathOf = new Map(collections.map((c) => [c.id, c.path]));
  fill($('#grants-list'), table([
    { title: 'Subject', cell: (g) => subjectLabel(subjects.get(g.subjectID), teams) },
    { title: 'Collection', cell: (g) => h('code', {}, pathOf.get(g.objectID) || g.objectID) },
    { title: 'Role', cell: (g) => badge(roleName.get(g.roleID) || g.roleID) },
    {
      title: '',
      cell: (g) => actionButton('Delete', card(), async () => {
        await api.del(api.path`/collectionGrants/${g.subjectID}/${g.objectID}/${g.roleID}`);
        await load();
      }, 'danger small'),
    },
  ], answer.grants, 'No grants yet.'));

  const keep = (sel, fallback) => $(sel).value || fallback;
  const coll = keep('#grant-collection', 'shared');
  fill($('#grant-collection'), collections.map((c) => h('option', { value: c.id, selected: c.id === coll }, c.path)));
  const role = keep('#grant-role', 'viewonly');
  fill($('#grant-role'), roles.map((r) => h('option', { value: r.id, selected: r.id === role }, r.name)));
}

// The subject's id, or an error shown next to the field that named it.
async function subjectID(form) {
  const type = value(form, 'subjectType');
  const name = value(form, 'subject').trim();
  try {
    if (type === 'team') {
      const t = await api.get(api.path`/enzi/v0/accounts/${value(form, 'org').trim()}/teams/${name}`);
      return t.id;
    }
    const a = await api.get(api.path`/enzi/v0/accounts/${name}`);
    if (a.isOrg !== (type === 'org')) {
      throw Object.assign(new Error(`"${a.name}" is ${a.isOrg ? 'an organization' : 'a user'}`), { field: 'subject' });
    }
    return a.id;
  } catch (err) {
    if (!err.field) err.field = type === 'team' && err.message.includes('account') ? 'org' : 'subject';
    throw err;
  }
}

export default {
  id: 'grants',
  title: 'Grants',
  admin: true,
  init() {
    $('#grant-subject-type').addEventListener('change', (e) => {
      $('#grant-org-field').hidden = e.target.value !== 'team';
    });
    onSubmit($('#grant-create'), async (form) => {
      const id = await subjectID(form);
      await api.put(api.path`/collectionGrants/${id}/${value(form, 'collection')}/${value(form, 'role')}`);
      note(form, 'Grant created.');
      form.elements.namedItem('subject').value = '';
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
