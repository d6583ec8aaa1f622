// Audit log panel: the audit log's records newest first (GET /api/audit),
// filtered by a time range, an account and an event (a name, or a prefix
// ending in "." such as "account."), paged with the API's cursors.

import * as api from './api.js';
import { $, h, fill, table, badge, onSubmit, showListError, loadList, value, formatTime, Pager } from './ui.js';

const card = () => $('#audit-table').closest('.card');
// shown in columns of their own; the other fields go to Details
const COLUMNS = new Set(['seq', 'time', 'event', 'actor', 'client']);
let pager;

// A datetime-local field holds a local time without a zone; the API wants RFC 3339.
function rfc3339(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

function eventBadge(r) {
  if (r.event === 'authz') return badge(r.allow ? 'authz: allowed' : 'authz: denied', r.allow ? 'on' : 'off');
  return badge(r.event, r.event === 'login.failure' ? 'off' : '');
}

function detailsOf(r) {
  const parts = Object.entries(r)
    .filter(([k]) => !COLUMNS.has(k))
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return h('span', { class: 'audit-details' }, parts.join(' · '));
}

async function load() {
  const form = $('#audit-search');
  const answer = await api.get('/api/audit', {
    since: rfc3339(value(form, 'since')),
    until: rfc3339(value(form, 'until')),
    account: value(form, 'account').trim(),
    type: value(form, 'type').trim(),
    start: pager.current,
    limit: Number(value(form, 'limit')),
  });
  fill($('#audit-table'), table([
    { title: '#', cell: (r) => String(r.seq) },
    { title: 'Time', cell: (r) => h('time', { datetime: r.time, title: r.time }, formatTime(r.time)) },
    { title: 'Event', cell: eventBadge },
    { title: 'Actor', cell: (r) => r.actor || '–' },
    { title: 'Client', cell: (r) => r.client || '–' },
    { title: 'Details', cell: detailsOf },
  ], answer.records, 'No records match.'));
  pager.render(answer.nextPageStart);
}

const reload = () => loadList(card(), load);

export default {
  id: 'audit',
  title: 'Audit log',
  admin: true,
  init() {
    pager = new Pager($('#audit-pager'), reload);
    onSubmit($('#audit-search'), async () => {
      showListError(card(), null);
      pager.reset();
      await load();
    });
  },
  async show() {
    await reload();
  },
};
