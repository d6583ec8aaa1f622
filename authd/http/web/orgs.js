// Organizations and teams panel: the paged organization list, an org's
// members and teams, a team's members, and the team's LDAP sync settings
// (GET/PUT .../teams/{team}/memberSyncConfig, SPEC §6.5).

import * as api from './api.js';
import { $, h, fill, table, badge, onSubmit, note, actionButton, showListError, value, clearErrors, showError, Pager } from './ui.js';
import { renderFields, readFields, groupSyncFields } from './fields.js';

const TEAM_SYNC_FIELDS = [
  ...groupSyncFields({
    enableLabel: 'Enable sync of team members',
    enableHelp: "At each LDAP sync, this team's members become those the directory names.",
  }),
  {
    key: 'allowNonLDAPMembers', type: 'checkbox', label: 'Allow non-LDAP members',
    help: 'Keep members the directory does not name (managed users added here by hand).',
  },
];

let pager;
let org = null; // the open organization's name
let team = null; // the open team's name

const listCard = () => $('#orgs-list').closest('.card');

async function loadOrgs() {
  showListError(listCard(), null);
  try {
    const answer = await api.get('/enzi/v0/accounts', { filter: 'orgs', start: pager.current, limit: 25 });
    fill($('#orgs-list'), table([
      { title: 'Organization', cell: (o) => o.name },
      { title: 'Members', cell: (o) => String(o.membersCount ?? '') },
      { title: 'Teams', cell: (o) => String(o.teamsCount ?? '') },
      { title: '', cell: (o) => actionButton('Open', listCard(), () => openOrg(o.name)) },
    ], answer.accounts, 'No organizations yet.'));
    pager.render(answer.nextPageStart);
  } catch (err) {
    showListError(listCard(), err);
  }
}

async function openOrg(name) {
  org = name;
  team = null;
  $('#team-detail').hidden = true;
  $('#org-detail').hidden = false;
  $('#org-detail-title').textContent = `Organization ${name}`;
  await loadOrgDetail();
}

async function loadOrgDetail() {
  const card = $('#org-detail');
  showListError(card, null);
  try {
    const [members, teams] = await Promise.all([
      api.get(api.path`/enzi/v0/accounts/${org}/members`, { limit: 1000 }),
      api.get(api.path`/enzi/v0/accounts/${org}/teams`, { limit: 1000 }),
    ]);
    fill($('#org-members'), table([
      { title: 'Member', cell: (m) => m.member.name },
      { title: 'Role', cell: (m) => (m.isAdmin ? badge('org admin', 'on') : badge('member')) },
      {
        title: 'Actions',
        cell: (m) => h('div', { class: 'actions' },
          actionButton(m.isAdmin ? 'Remove org admin' : 'Make org admin', card, async () => {
            await api.put(api.path`/enzi/v0/accounts/${org}/members/${m.member.name}`, { isAdmin: !m.isAdmin });
            await loadOrgDetail();
          }),
          actionButton('Remove', card, async () => {
            await api.del(api.path`/enzi/v0/accounts/${org}/members/${m.member.name}`);
            await loadOrgDetail();
          }, 'danger small')),
      },
    ], members.members, 'No members yet.'));
    fill($('#org-teams'), table([
      { title: 'Team', cell: (t) => t.name },
      { title: 'Description', cell: (t) => t.description || '' },
      { title: 'Members', cell: (t) => String(t.membersCount ?? '') },
      {
        title: 'Actions',
        cell: (t) => h('div', { class: 'actions' },
          actionButton('Open', card, () => openTeam(t.name)),
          actionButton('Delete', card, async () => {
            if (!window.confirm(`Delete team ${t.name}?`)) return;
            await api.del(api.path`/enzi/v0/accounts/${org}/teams/${t.name}`);
            if (team === t.name) $('#team-detail').hidden = true;
            await loadOrgDetail();
          }, 'danger small')),
      },
    ], teams.teams, 'No teams yet.'));
  } catch (err) {
    showListError(card, err);
  }
}

async function openTeam(name) {
  team = name;
  $('#team-detail').hidden = false;
  $('#team-detail-title').textContent = `Team ${org} / ${name}`;
  await Promise.all([loadTeamMembers(), loadTeamSync()]);
}

async function loadTeamMembers() {
  const card = $('#team-detail');
  showListError(card, null);
  try {
    const answer = await api.get(api.path`/enzi/v0/accounts/${org}/teams/${team}/members`, { limit: 1000 });
    fill($('#team-members'), table([
      { title: 'Member', cell: (m) => m.member.name },
      { title: 'Role', cell: (m) => (m.isAdmin ? badge('team admin', 'on') : badge('member')) },
      {
        title: 'Actions',
        cell: (m) => actionButton('Remove', card, async () => {
          await api.del(api.path`/enzi/v0/accounts/${org}/teams/${team}/members/${m.member.name}`);
          await loadTeamMembers();
        }, 'danger small'),
      },
    ], answer.members, 'No members yet.'));
  } catch (err) {
    showListError(card, err);
  }
}

// The form is shown even when the API cannot answer (no LDAP support yet, or
// a team never configured), with the API's own message above it.
async function loadTeamSync() {
  const form = $('#team-sync');
  clearErrors(form);
  note(form, '');
  let config = {};
  try {
    config = await api.get(api.path`/enzi/v0/accounts/${org}/teams/${team}/memberSyncConfig`);
  } catch (err) {
    showError(form, err);
  }
  fill($('#team-sync-fields'), renderFields(TEAM_SYNC_FIELDS, config));
}

export default {
  id: 'orgs',
  title: 'Organizations & teams',
  admin: true,
  init() {
    pager = new Pager($('#orgs-pager'), loadOrgs);
    onSubmit($('#org-create'), async (form) => {
      const account = await api.post('/enzi/v0/accounts', {
        name: value(form, 'name').trim(),
        fullName: value(form, 'fullName').trim(),
        isOrg: true,
      });
      form.reset();
      await loadOrgs();
      await openOrg(account.name);
    });
    onSubmit($('#org-member-add'), async (form) => {
      await api.put(api.path`/enzi/v0/accounts/${org}/members/${value(form, 'user').trim()}`, { isAdmin: value(form, 'isAdmin') });
      form.reset();
      await Promise.all([loadOrgDetail(), loadOrgs()]);
    });
    onSubmit($('#team-create'), async (form) => {
      const created = await api.post(api.path`/enzi/v0/accounts/${org}/teams`, {
        name: value(form, 'name').trim(),
        description: value(form, 'description').trim(),
      });
      form.reset();
      await Promise.all([loadOrgDetail(), loadOrgs()]);
      await openTeam(created.name);
    });
    onSubmit($('#team-member-add'), async (form) => {
      await api.put(api.path`/enzi/v0/accounts/${org}/teams/${team}/members/${value(form, 'user').trim()}`, { isAdmin: value(form, 'isAdmin') });
      form.reset();
      await Promise.all([loadTeamMembers(), loadOrgDetail(), loadOrgs()]);
    });
    onSubmit($('#team-sync'), async (form) => {
      const sent = readFields($('#team-sync-fields'), TEAM_SYNC_FIELDS);
      const saved = await api.put(api.path`/enzi/v0/accounts/${org}/teams/${team}/memberSyncConfig`, sent);
      fill($('#team-sync-fields'), renderFields(TEAM_SYNC_FIELDS, saved || sent));
      note(form, 'Team sync settings saved.');
    });
  },
  async show() {
    await loadOrgs();
    if (org) await loadOrgDetail();
  },
};
