// My profile panel: the signed-in account, changing its password, and its
// client bundles: generate one (the zip downloads), list them, revoke one.

import * as api from './api.js';
import { $, h, fill, details, table, badge, onSubmit, note, actionButton, showListError, value, formatTime } from './ui.js';

const keysCard = () => $('#keys-list').closest('.card');
const me = () => api.session().account;

function showAccount(a) {
  details($('#profile-details'), [
    ['Username', a.name],
    ['Full name', a.fullName || '–'],
    ['Kind', `${a.isAdmin ? 'admin' : 'user'}, ${a.isImported ? 'from LDAP' : 'managed by authd'}`],
    ['Status', a.isActive ? 'active' : 'inactive'],
    ...(a.ldapDN ? [['LDAP DN', a.ldapDN]] : []),
  ]);
}

async function loadKeys() {
  showListError(keysCard(), null);
  try {
    const answer = await api.get(api.path`/enzi/v0/accounts/${me().name}/publicKeys`, { limit: 1000 });
    fill($('#keys-list'), table([
      { title: 'Label', cell: (k) => k.label },
      { title: 'Scope', cell: (k) => badge(k.scope) },
      { title: 'Created', cell: (k) => formatTime(k.createdAt) },
      { title: 'Expires', cell: (k) => formatTime(k.notAfter) },
      { title: 'Key id', cell: (k) => h('code', {}, k.id) },
      {
        title: '',
        cell: (k) => actionButton('Revoke', keysCard(), async () => {
          if (!window.confirm(`Revoke the bundle "${k.label}"? Its certificate stops working at once.`)) return;
          await api.del(api.path`/enzi/v0/accounts/${me().name}/publicKeys/${k.id}`);
          await loadKeys();
        }, 'danger small'),
      },
    ], answer.accountPublicKeys, 'No client bundles yet.'));
  } catch (err) {
    showListError(keysCard(), err);
  }
}

function fileName(headers, fallback) {
  const m = /filename="([^"]+)"/.exec(headers.get('Content-Disposition') || '');
  return m ? m[1] : fallback;
}

// The zip is fetched with the token in a header, then handed to the browser
// as a download; the object URL is dropped once the download has started.
async function downloadBundle(label) {
  const { blob, headers } = await api.request('POST', '/api/clientbundle', { query: { label }, as: 'blob' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: fileName(headers, `bundle-${me().name}.zip`), hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export default {
  id: 'profile',
  title: 'My profile',
  admin: false,
  init() {
    onSubmit($('#password-change'), async (form) => {
      if (value(form, 'newPassword') !== value(form, 'confirm')) {
        throw Object.assign(new api.ApiError(400, null, 'the two new passwords differ'), { field: 'confirm' });
      }
      await api.post(api.path`/enzi/v0/accounts/${me().name}/changePassword`, {
        oldPassword: value(form, 'oldPassword'),
        newPassword: value(form, 'newPassword'),
      });
      form.reset();
      note(form, 'Password changed. Your other sessions have ended.');
    });
    onSubmit($('#bundle-create'), async (form) => {
      const label = value(form, 'label').trim();
      await downloadBundle(label);
      form.reset();
      note(form, `Bundle${label ? ` "${label}"` : ''} generated: the download has started.`);
      await loadKeys();
    });
  },
  async show() {
    showAccount(me());
    await loadKeys();
  },
};
