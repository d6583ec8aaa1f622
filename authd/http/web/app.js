// The page's entry point: sign-in and sign-out, the section navigation, and
// handing each panel its turn. Panels are modules with { id, title, admin,
// init(), show() }; show() reloads what the panel lists each time it opens.

import * as api from './api.js';
import { $, h, fill, onSubmit, value } from './ui.js';
import users from './users.js';
import orgs from './orgs.js';
import roles from './roles.js';
import collections from './collections.js';
import grants from './grants.js';
import auth from './auth.js';
import certs from './certs.js';
import audit from './audit.js';
import profile from './profile.js';

const panels = [users, orgs, roles, collections, grants, auth, certs, audit, profile];
let initialised = false;

function pageAlert(text) {
  const a = $('#page-alert');
  a.textContent = text || '';
  a.hidden = !text;
}

function visiblePanels(account) {
  return panels.filter((p) => !p.admin || (account && account.isAdmin));
}

async function showPanel(id) {
  const account = api.session()?.account;
  const allowed = visiblePanels(account);
  const panel = allowed.find((p) => p.id === id) || allowed[0];
  for (const p of panels) $(`#panel-${p.id}`).hidden = p !== panel;
  for (const b of document.querySelectorAll('#nav button')) {
    if (b.dataset.panel === panel.id) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  if (location.hash !== `#${panel.id}`) history.replaceState(null, '', `#${panel.id}`);
  pageAlert('');
  try {
    await panel.show();
  } catch (err) {
    pageAlert(err.message);
  }
}

function showSignIn(message) {
  $('#app').hidden = true;
  $('#whoami').hidden = true;
  $('#signin').hidden = false;
  pageAlert(message || '');
  $('#signin-username').focus();
}

function showApp(account) {
  $('#signin').hidden = true;
  $('#app').hidden = false;
  $('#whoami').hidden = false;
  $('#whoami-name').textContent = account.name;
  fill($('#nav'), visiblePanels(account).map((p) =>
    h('li', {}, h('button', { type: 'button', dataset: { panel: p.id }, onclick: () => showPanel(p.id) }, p.title))));
  if (!initialised) {
    panels.forEach((p) => p.init());
    initialised = true;
  }
  showPanel(location.hash.slice(1));
}

async function resume() {
  const s = api.session();
  if (!s || !s.account) {
    showSignIn();
    return;
  }
  try {
    // the stored copy may be stale (made admin, renamed): ask again
    const account = await api.get(api.path`/enzi/v0/accounts/${s.account.id}`);
    api.rememberAccount(account);
    showApp(account);
  } catch (err) {
    if (api.session()) showApp(s.account);
    else showSignIn(err.message);
  }
}

onSubmit($('#signin-form'), async (form) => {
  const account = await api.login(value(form, 'username').trim(), value(form, 'password'));
  form.reset();
  showApp(account);
});

$('#signout').addEventListener('click', async () => {
  try {
    await api.logout();
  } finally {
    showSignIn();
  }
});

window.addEventListener('authd:session-ended', (ev) => showSignIn(`Your session has ended: ${ev.detail}`));
window.addEventListener('hashchange', () => {
  if (api.session()) showPanel(location.hash.slice(1));
});

resume();
