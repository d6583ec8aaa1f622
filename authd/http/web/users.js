// Users panel: the paged user list with a name-prefix search, creating a
// managed user, and the admin and active switches (PATCH /enzi/v0/accounts/{name}).

import * as api from './api.js';
import { $, h, fill, table, badge, onSubmit, note, actionButton, loadList, value, Pager } from './ui.js';

const card = () => $('#users-table').closest('.card');
let pager;

// The list is sorted by name and `start` is a name, so a prefix search is a
// page that starts at the prefix and stops at the first name past it.
async function load() {
  const form = $('#users-search');
  const prefix = value(form, 'prefix').trim().toLowerCase();
  const limit = Number(value(form, 'limit'));
  const answer = await api.get('/enzi/v0/accounts', {
    filter: value(form, 'filter'),
    start: pager.current || prefix,
    limit,
  });
  const rows = answer.accounts.filter((a) => a.name.startsWith(prefix));
  const more = answer.nextPageStart && answer.nextPageStart.startsWith(prefix) ? answer.nextPageStart : '';
  $('#users-counts').textContent = `${answer.usersCount} users, ${answer.orgsCount} organizations in all`;
  fill($('#users-table'), table([
    { title: 'Username', cell: (a) => a.name },
    { title: 'Full name', cell: (a) => a.fullName || '' },
    { title: 'Source', cell: (a) => (a.isImported ? badge('LDAP') : badge('managed')) },
    { title: 'Admin', cell: (a) => (a.isAdmin ? badge('admin', 'on') : badge('no')) },
    { title: 'Status', cell: (a) => (a.isActive ? badge('active', 'on') : badge('inactive', 'off')) },
    { title: 'Actions', cell: actions },
  ], rows, prefix ? `No user's name starts with "${prefix}".` : 'No users.'));
  pager.render(more);
}

function actions(a) {
  const set = (change) => async () => {
    await api.patch(api.path`/enzi/v0/accounts/${a.name}`, change);
    await load();
  };
  return h('div', { class: 'actions' },
    actionButton(a.isActive ? 'Deactivate' : 'Activate', card(), set({ isActive: !a.isActive }),
      a.isActive ? 'danger small' : 'secondary small'),
    actionButton(a.isAdmin ? 'Remove admin' : 'Make admin', card(), set({ isAdmin: !a.isAdmin })));
}

const reload = () => loadList(card(), load);

export default {
  id: 'users',
  title: 'Users',
  admin: true,
  init() {
    pager = new Pager($('#users-pager'), reload);
    onSubmit($('#users-search'), async () => {
      pager.reset();
      await load();
    });
    onSubmit($('#user-create'), async (form) => {
      const account = await api.post('/enzi/v0/accounts', {
        name: value(form, 'name').trim(),
        fullName: value(form, 'fullName').trim(),
        password: value(form, 'password'),
        isAdmin: value(form, 'isAdmin'),
      });
      form.reset();
      note(form, `Created user "${account.name}".`);
      await reload();
    });
  },
  async show() {
    await reload();
  },
};
