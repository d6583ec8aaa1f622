// Authentication & Authorization panel: the backend choice, the session
// settings (lifetime, renewal threshold, per-user limit), every LDAP
// setting of SPEC §6.1 (with the domain servers and user searches as ordered
// lists), the LDAP test login with its step log (§6.4), and the sync jobs:
// Sync now, Dry run, the job list and each job's log (§6.5).

import * as api from './api.js';
import { $, h, fill, table, badge, onSubmit, note, actionButton, showListError, showError, clearErrors, value, formatTime } from './ui.js';
import { renderFields, readFields, groupSyncFields } from './fields.js';

const SERVER_FIELDS = [
  { key: 'serverURL', label: 'LDAP Server URL', placeholder: 'ldaps://ldap.example.com', help: 'ldap://host:389 or ldaps://host:636.' },
  { key: 'failoverURLs', type: 'textarea', label: 'Failover Server URLs', placeholder: 'ldaps://ldap2.example.com', help: 'Further servers with the same data, one URL a line (up to 7), tried in this order when the ones before cannot be reached.' },
  { key: 'readerDN', label: 'Reader DN', help: 'The account authd binds as to search the directory; empty for an anonymous search.' },
  { key: 'readerPassword', type: 'password', setFlag: 'readerPasswordSet', label: 'Reader Password', help: "The reader DN's password; it is never shown again once saved." },
  { key: 'startTLS', type: 'checkbox', label: 'Use Start TLS', help: 'Upgrade an ldap:// connection to TLS (not with ldaps://).' },
  { key: 'tlsSkipVerify', type: 'checkbox', label: 'Skip TLS Verification', help: "Accept any server certificate: for tests only, it lets anyone pose as the server." },
  { key: 'noSimplePagination', type: 'checkbox', label: 'No Simple Pagination (RFC 2696)', help: 'For servers without paged results: every search must then fit in one answer.' },
  { key: 'rootCerts', type: 'textarea', label: 'Root Certificates', help: "PEM CA certificates that verify the server's certificate; empty for the system's CAs." },
  { key: 'uniqueIDAttr', label: 'Unique ID Attribute', default: 'entryUUID', help: 'The attribute that names an entry for good, by which an account follows its user when moved or renamed: entryUUID on OpenLDAP, objectGUID on Active Directory; empty if the directory has none.' },
  { key: 'memberRangeSize', type: 'number', default: 0, min: 0, max: 100000, label: 'Member Range Size', help: 'Active Directory only: ask for a group\'s members this many at a time (member;range=0-1499, then on); 0 asks for them whole and follows the ranges the server answers.' },
];

const DOMAIN_FIELDS = [
  { key: 'domain', label: 'LDAP Domain', placeholder: 'eu.example.com', help: 'The DNS name this server serves: eu.example.com serves base DNs ending in dc=eu,dc=example,dc=com.' },
  ...SERVER_FIELDS,
];

const SEARCH_FIELDS = [
  { key: 'baseDN', label: 'Base DN', placeholder: 'ou=people,dc=example,dc=com', help: 'Where the search for users starts.' },
  { key: 'usernameAttr', label: 'Username Attribute', default: 'uid', help: 'The attribute whose value becomes the username.' },
  { key: 'fullNameAttr', label: 'Full Name Attribute', default: 'cn', help: 'The attribute shown as the full name.' },
  { key: 'filter', label: 'Filter', placeholder: '(objectClass=inetOrgPerson)', help: 'An LDAP filter that users must also match; empty for all.' },
  { key: 'scopeSubtree', type: 'checkbox', label: 'Search subtree instead of just one level', help: 'Search below the base DN at every depth, not only its direct children.' },
  { key: 'matchGroup', type: 'checkbox', label: 'Select Group Members', help: 'Keep only the users that are members of the group below.' },
  { key: 'matchGroupDN', label: 'Group DN', help: 'The group whose members are kept.' },
  { key: 'matchGroupMemberAttr', label: 'Group Member Attribute', default: 'member', help: 'The group attribute that lists its members, e.g. member or uniqueMember.' },
  { key: 'matchGroupIterate', type: 'checkbox', label: 'Iterate through group members', help: 'Look each member up one by one: for servers without the memberOf attribute.' },
];

const LOGIN_FIELDS = [
  { key: 'jitUserProvisioning', type: 'checkbox', default: true, label: 'Just-In-Time User Provisioning', help: 'Create a user at its first login; without it users arrive only by sync.' },
  { key: 'followReferrals', type: 'checkbox', label: 'Follow Referrals', help: 'Chase the referrals a server answers with, to other servers.' },
  { key: 'timeoutSeconds', type: 'number', default: 10, min: 1, max: 300, label: 'Timeout (seconds)', help: 'How long each connection and search may take.' },
  { key: 'maxDeactivationPercent', type: 'number', default: 10, min: 0, max: 100, label: 'Maximum deactivations (%)', help: 'A sync that would deactivate more of the imported users (and more than 5) stops and changes nothing.' },
];

const ADMIN_SYNC_FIELDS = [
  ...groupSyncFields({
    enableLabel: 'Enable sync of admin users',
    enableHelp: 'At each sync, system admins become the users the directory names (the last local admin stays).',
  }),
  { key: 'allowNonLDAPMembers', type: 'checkbox', label: 'Allow non-LDAP admins', help: 'Keep admins the directory does not name (local accounts made admin by hand).' },
];

const SCHEDULES = [['@hourly', 'Every hour'], ['@daily', 'Every day'], ['@weekly', 'Every week'], ['every', 'Every N hours']];

// The ordered lists, as last rendered: values plus each item's readerPasswordSet.
let domains = [];
let searches = [];
let pollTimer = null;

/* ---- the LDAP form ---- */

function scheduleControl(schedule) {
  const every = /^@every (\d+)h$/.exec(schedule || '');
  const choice = every ? 'every' : schedule || '@hourly';
  const select = h('select', { id: 'ldap-schedule', dataset: { field: 'syncSchedule' }, 'aria-describedby': 'ldap-schedule-help' },
    SCHEDULES.map(([v, label]) => h('option', { value: v, selected: v === choice }, label)));
  const hours = h('input', { id: 'ldap-schedule-hours', type: 'number', min: 1, max: 720, step: 1, value: every ? every[1] : '6' });
  const hoursField = h('div', { class: 'field', hidden: choice !== 'every' },
    h('label', { for: 'ldap-schedule-hours' }, 'Hours between syncs'), hours,
    h('p', { class: 'help' }, 'From 1 to 720.'));
  select.addEventListener('change', () => { hoursField.hidden = select.value !== 'every'; });
  return h('div', { class: 'grid' },
    h('div', { class: 'field' }, h('label', { for: 'ldap-schedule' }, 'Sync Interval'), select,
      h('p', { class: 'help', id: 'ldap-schedule-help' }, 'How often the directory is synced.')),
    hoursField);
}

function readSchedule() {
  const choice = $('#ldap-schedule').value;
  return choice === 'every' ? `@every ${$('#ldap-schedule-hours').value}h` : choice;
}

// One item of an ordered list, with its move and remove buttons. Each button
// first keeps what was typed, then changes the list and draws it again.
function repeatItem(list, i, title, specs, prefix) {
  const change = (fn) => () => {
    syncLists();
    fn();
    renderLists();
  };
  const move = (to) => change(() => list.splice(to, 0, list.splice(i, 1)[0]));
  const tools = h('div', { class: 'actions' },
    h('button', { type: 'button', class: 'secondary small', disabled: i === 0, onclick: move(i - 1), 'aria-label': `Move ${title} up` }, 'Move up'),
    h('button', { type: 'button', class: 'secondary small', disabled: i === list.length - 1, onclick: move(i + 1), 'aria-label': `Move ${title} down` }, 'Move down'),
    h('button', { type: 'button', class: 'danger small', onclick: change(() => list.splice(i, 1)), 'aria-label': `Remove ${title}` }, 'Remove'));
  return h('div', { class: 'repeat' },
    h('div', { class: 'repeat-head' }, h('strong', {}, title), tools),
    renderFields(specs, list[i], prefix));
}

// serverURLs as the form shows it: its first URL in serverURL, the others one a line.
function withFailover(server) {
  return { ...server, failoverURLs: (server.serverURLs || []).slice(1).join('\n') };
}

// The form's server fields as the API takes them: serverURLs only when there are several.
function toServerURLs(fields) {
  const { failoverURLs, ...server } = fields;
  const more = (failoverURLs || '').split('\n').map((u) => u.trim()).filter((u) => u !== '');
  return more.length === 0 ? server : { ...server, serverURLs: [server.serverURL, ...more] };
}

// Copies what was typed into the lists' items (in place: handlers hold the arrays).
function syncLists() {
  const box = $('#ldap-fields');
  domains.forEach((d, i) => Object.assign(d, { readerPassword: undefined }, readFields(box, DOMAIN_FIELDS, `additionalDomains[${i}]`)));
  searches.forEach((s, i) => Object.assign(s, readFields(box, SEARCH_FIELDS, `userSearchConfigs[${i}]`)));
}

function addButton(list, label) {
  return h('button', { type: 'button', class: 'secondary', onclick: () => { syncLists(); list.push({}); renderLists(); } }, label);
}

function renderLists() {
  fill($('#ldap-domains'),
    domains.map((_, i) => repeatItem(domains, i, `Domain server ${i + 1}`, DOMAIN_FIELDS, `additionalDomains[${i}]`)),
    addButton(domains, 'Add LDAP domain'));
  fill($('#ldap-searches'),
    searches.map((_, i) => repeatItem(searches, i, `User search ${i + 1}`, SEARCH_FIELDS, `userSearchConfigs[${i}]`)),
    addButton(searches, 'Add user search configuration'));
}

function renderLdap(settings) {
  domains = (settings.additionalDomains || []).map(withFailover);
  searches = (settings.userSearchConfigs || []).map((s) => ({ ...s }));
  if (searches.length === 0) searches.push({});
  fill($('#ldap-fields'),
    h('fieldset', {}, h('legend', {}, 'Default LDAP server'), renderFields(SERVER_FIELDS, withFailover(settings))),
    h('fieldset', {}, h('legend', {}, 'Additional LDAP domains'),
      h('p', { class: 'help' }, 'Each user search runs against the server whose domain is the longest suffix of its base DN; the default server serves the rest.'),
      h('div', { id: 'ldap-domains' })),
    h('fieldset', {}, h('legend', {}, 'User search configurations'),
      h('p', { class: 'help' }, 'Run in order; when two find the same username, the first wins.'),
      h('div', { id: 'ldap-searches' })),
    h('fieldset', {}, h('legend', {}, 'Login and sync'), renderFields(LOGIN_FIELDS, settings), scheduleControl(settings.syncSchedule)),
    h('fieldset', {}, h('legend', {}, 'Admin sync'), renderFields(ADMIN_SYNC_FIELDS, settings.adminSyncOpts || {}, 'adminSyncOpts')));
  renderLists();
}

// The settings as the form holds them, in SPEC §6.1's shape. Empty password
// fields are left out: the API then keeps the stored ones where it may.
function ldapSettings() {
  syncLists();
  const box = $('#ldap-fields');
  return {
    ...toServerURLs(readFields(box, SERVER_FIELDS)),
    additionalDomains: domains.map((_, i) => toServerURLs(readFields(box, DOMAIN_FIELDS, `additionalDomains[${i}]`))),
    userSearchConfigs: searches.map((_, i) => readFields(box, SEARCH_FIELDS, `userSearchConfigs[${i}]`)),
    ...readFields(box, LOGIN_FIELDS),
    syncSchedule: readSchedule(),
    adminSyncOpts: readFields(box, ADMIN_SYNC_FIELDS, 'adminSyncOpts'),
  };
}

async function loadLdap() {
  const form = $('#ldap-form');
  clearErrors(form);
  let settings = {};
  try {
    settings = await api.get('/enzi/v0/config/auth/ldap');
  } catch (err) {
    showError(form, err);
  }
  renderLdap(settings);
}

/* ---- backend and sessions ---- */

const SESSION_FIELDS = [
  { key: 'lifetimeMinutes', type: 'number', min: 1, label: 'Session lifetime (minutes)', help: 'How long a session lasts after sign-in or its last renewal. Lowering it ends older sessions at once.' },
  { key: 'renewalThresholdMinutes', type: 'number', min: 0, label: 'Renewal threshold (minutes)', help: 'A session used within this many minutes of its end lasts a whole lifetime again. 0: never; equal to the lifetime: at every use.' },
  { key: 'perUserLimit', type: 'number', min: 0, max: 1000, label: 'Per-user session limit', help: "Sessions one user may hold at once; a sign-in past it ends that user's oldest. 0: no limit." },
];

function renderSessions(sessions) {
  fill($('#sessions-fields'), renderFields(SESSION_FIELDS, sessions, 'sessions'));
}

async function loadAuthConfig() {
  const form = $('#auth-backend');
  clearErrors(form);
  clearErrors($('#auth-sessions'));
  try {
    const [config, roles] = await Promise.all([api.get('/enzi/v0/config/auth'), api.get('/roles')]);
    form.elements.namedItem('backend').value = config.backend;
    fill($('#auth-default-role'), roles.map((r) => h('option', { value: r.id, selected: r.id === config.defaultNewUserRole }, r.name)));
    renderSessions(config.sessions || {});
  } catch (err) {
    showError(form, err);
  }
}

/* ---- test login ---- */

function logBlock(lines) {
  if (!Array.isArray(lines) || lines.length === 0) return null;
  return h('pre', { class: 'log', tabindex: '0', 'aria-label': 'Test login log' }, lines.join('\n'));
}

async function tryLogin(form) {
  const out = $('#ldap-try-result');
  fill(out);
  clearErrors($('#ldap-form'));
  try {
    const answer = await api.post('/enzi/v0/config/auth/ldap/tryLogin', {
      username: value(form, 'username').trim(),
      password: value(form, 'password'),
      ldapSettings: ldapSettings(),
    });
    const a = answer.account || {};
    fill(out, h('p', { class: 'result-ok' }, `Login succeeded as ${a.name || value(form, 'username')}${a.ldapDN ? ` (${a.ldapDN})` : ''}.`), logBlock(answer.log));
  } catch (err) {
    fill(out, h('p', { class: 'result-fail' }, 'Login failed; the log shows each step up to the one that failed.'), logBlock(err.detail && err.detail.log));
    // a refused settings field is shown where it is: in the settings form
    if (err.field && err.field !== 'username' && err.field !== 'password') {
      showError($('#ldap-form'), { message: err.message, field: err.field.replace(/^ldapSettings\.?/, '') });
    }
    throw err;
  }
}

/* ---- jobs ---- */

function summaryText(summary) {
  const parts = Object.entries(summary || {}).filter(([, v]) => v !== 0 && v !== null && v !== '');
  return parts.length ? parts.map(([k, v]) => `${k} ${v}`).join(', ') : '–';
}

function statusBadge(status) {
  const kind = { done: 'on', errored: 'off', canceled: 'off' }[status] || status;
  return badge(status, kind);
}

async function showLog(job) {
  const text = await api.request('GET', api.path`/enzi/v0/jobs/${job.id}/logs`, { as: 'text' });
  $('#job-log').hidden = false;
  $('#job-log-title').textContent = `Log of job ${job.id}`;
  $('#job-log-text').textContent = text || '(empty)';
}

function planBlock(job) {
  if (!Array.isArray(job.plan)) return null;
  return h('details', {}, h('summary', {}, `plan: ${job.plan.length} changes`),
    h('pre', { class: 'log' }, job.plan.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join('\n')));
}

async function loadJobs() {
  const card = $('#jobs-list').closest('.card');
  clearTimeout(pollTimer);
  showListError(card, null);
  let jobs;
  try {
    const answer = await api.get('/enzi/v0/jobs', { action: 'ldap-sync', limit: 20 });
    jobs = Array.isArray(answer) ? answer : answer.jobs || [];
  } catch (err) {
    showListError(card, err);
    return;
  }
  fill($('#jobs-list'), table([
    { title: 'Scheduled', cell: (j) => formatTime(j.scheduledAt) },
    { title: 'Kind', cell: (j) => (j.dryRun || Array.isArray(j.plan) ? badge('dry run') : badge('sync')) },
    { title: 'Status', cell: (j) => statusBadge(j.status) },
    { title: 'Last update', cell: (j) => formatTime(j.lastUpdated) },
    { title: 'Summary', cell: (j) => h('div', {}, summaryText(j.summary), planBlock(j)) },
    { title: '', cell: (j) => actionButton('View log', card, () => showLog(j)) },
  ], jobs, 'No sync has run yet.'));
  // follow a job until it ends, while the panel is open
  if (jobs.some((j) => j.status === 'waiting' || j.status === 'running')) {
    pollTimer = setTimeout(() => { if (!$('#panel-auth').hidden) loadJobs(); }, 1500);
  }
}

export default {
  id: 'auth',
  title: 'Authentication & Authorization',
  admin: true,
  init() {
    onSubmit($('#auth-backend'), async (form) => {
      await api.put('/enzi/v0/config/auth', { backend: value(form, 'backend'), defaultNewUserRole: value(form, 'defaultNewUserRole') });
      note(form, 'Backend saved.');
    });
    onSubmit($('#auth-sessions'), async (form) => {
      const saved = await api.put('/enzi/v0/config/auth', { sessions: readFields(form, SESSION_FIELDS, 'sessions') });
      if (saved && saved.sessions) renderSessions(saved.sessions);
      note(form, 'Session settings saved.');
    });
    onSubmit($('#ldap-form'), async (form) => {
      const saved = await api.put('/enzi/v0/config/auth/ldap', ldapSettings());
      if (saved) renderLdap(saved);
      note(form, 'LDAP settings saved.');
    });
    onSubmit($('#ldap-try'), tryLogin);
    onSubmit($('#ldap-sync'), async (form, submitter) => {
      const dryRun = submitter && submitter.value === 'dry';
      const job = await api.post('/enzi/v0/jobs', { action: 'ldap-sync', dryRun });
      note(form, `${dryRun ? 'Dry run' : 'Sync'} started (job ${job.id}).`);
      await loadJobs();
    });
    $('#jobs-refresh').addEventListener('click', loadJobs);
  },
  async show() {
    const panel = $('#panel-auth');
    try {
      await Promise.all([loadAuthConfig(), loadLdap(), loadJobs()]);
    } finally {
      // counts finished loads, so that whoever edits the forms can wait until they hold the stored values
      panel.dataset.loads = String(Number(panel.dataset.loads || 0) + 1);
    }
  },
};
