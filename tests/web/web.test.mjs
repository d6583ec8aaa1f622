// Browser test of the admin page (SPEC §9): starts the real authd with a
// private data dir, trusts its cluster CA in an NSS database of a private
// HOME (as a user would import it), and drives Debian's Chromium through
// playwright-core, one named step at a time, with a screenshot per panel.
//   node web.test.mjs --authd PATH --artifacts DIR

import { spawn, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ADMIN_PASSWORD = 'web-test-admin-pw';
const NEW_PASSWORD = 'web-test-new-pw-2';
const CHROMIUM = '/usr/bin/chromium';
const TIMEOUT_MS = 15000;

function arg(name) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0 || !process.argv[i + 1]) throw new Error(`usage: web.test.mjs --authd PATH --artifacts DIR (missing --${name})`);
  return path.resolve(process.argv[i + 1]);
}

const AUTHD = arg('authd');
const ARTIFACTS = arg('artifacts');
// optional: a config file for authd (run.sh's PostgreSQL store)
const CONFIG = process.argv.includes('--config') ? arg('config') : null;

/* ---- checks ---- */

class Check {
  constructor(name) {
    this.name = name;
  }

  ok(cond, what) {
    if (!cond) throw new Error(`${this.name}: ${what}`);
  }

  equal(got, want, what) {
    if (got !== want) throw new Error(`${this.name}: ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }

  skip(why) {
    throw Object.assign(new Error(why), { skipped: true });
  }
}

/* ---- authd ---- */

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// A call to authd's API from the test itself, verifying authd with its CA.
function call(ctx, method, urlPath, { token, body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({
      host: '127.0.0.1', port: ctx.port, path: urlPath, method, ca: ctx.ca,
      headers: {
        ...headers,
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) } : {}),
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.setTimeout(10000, () => req.destroy(new Error(`${method} ${urlPath}: no answer in 10 s`)));
    req.end(payload);
  });
}

async function startAuthd(ctx) {
  for (let attempt = 1; ; attempt++) {
    ctx.port = await freePort();
    ctx.logPath = path.join(ctx.dir, 'authd.log');
    const log = fs.openSync(ctx.logPath, 'w');
    const config = CONFIG ? ['--config', CONFIG] : [];
    ctx.authd = spawn(AUTHD, [...config, '--data-dir', path.join(ctx.dir, 'data'), '--listen', `127.0.0.1:${ctx.port}`], {
      env: { ...process.env, AUTHD_ADMIN_PASSWORD: ADMIN_PASSWORD },
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    ctx.exited = new Promise((resolve) => ctx.authd.on('exit', (code, sig) => resolve({ code, sig })));
    const deadline = Date.now() + 20000;
    let running = true;
    ctx.exited.then(() => { running = false; });
    while (running && Date.now() < deadline) {
      try {
        ctx.ca = fs.readFileSync(path.join(ctx.dir, 'data', 'ca', 'cluster-ca.pem'));
        const r = await call(ctx, 'GET', '/_ping');
        if (r.status === 200) return;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    const text = fs.readFileSync(ctx.logPath, 'utf8');
    await stopAuthd(ctx);
    // another process may have taken the port between our probe and authd's bind
    if (attempt < 3 && text.includes('cannot listen')) continue;
    throw new Error(`authd did not answer /_ping:\n${text}`);
  }
}

// Stops authd; returns how it ended, or null when it had ended before.
async function stopAuthd(ctx) {
  if (!ctx.authd || ctx.authd.exitCode !== null || ctx.authd.signalCode !== null) return null;
  ctx.authd.kill('SIGTERM');
  const timer = setTimeout(() => ctx.authd.kill('SIGKILL'), 15000);
  const end = await ctx.exited;
  clearTimeout(timer);
  return end;
}

/* ---- slapd ---- */

const LDAP_SUFFIX = 'dc=example,dc=com';
const LDAP_READER = `cn=reader,${LDAP_SUFFIX}`;
const LDAP_PEOPLE = `ou=people,${LDAP_SUFFIX}`;
const LDAP_USERS = { carol: 'carol-ldap-pw', dave: 'dave-ldap-pw' };

function waitForPort(port, deadlineMs) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + deadlineMs;
    const attempt = () => {
      const sock = net.connect(port, '127.0.0.1');
      sock.on('connect', () => { sock.destroy(); resolve(); });
      sock.on('error', () => {
        if (Date.now() > deadline) reject(new Error(`nothing listens on port ${port}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

// A directory of its own for the LDAP steps: OpenLDAP's slapd on 127.0.0.1,
// an mdb database loaded with a reader and two people.
async function startSlapd(ctx) {
  if (ctx.slapd) return;
  const dir = path.join(ctx.dir, 'slapd');
  fs.mkdirSync(path.join(dir, 'db'), { recursive: true });
  const conf = path.join(dir, 'slapd.conf');
  fs.writeFileSync(conf, [
    ...['core', 'cosine', 'inetorgperson'].map((s) => `include /etc/ldap/schema/${s}.schema`),
    `pidfile ${dir}/slapd.pid`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'database mdb',
    `suffix "${LDAP_SUFFIX}"`,
    `directory ${dir}/db`,
    '',
  ].join('\n'));
  const entries = [
    [`dn: ${LDAP_SUFFIX}`, 'objectClass: dcObject', 'objectClass: organization', 'dc: example', 'o: Example'],
    [`dn: ${LDAP_READER}`, 'objectClass: organizationalRole', 'objectClass: simpleSecurityObject', 'cn: reader', 'userPassword: reader-pw'],
    [`dn: ${LDAP_PEOPLE}`, 'objectClass: organizationalUnit', 'ou: people'],
    ...Object.entries(LDAP_USERS).map(([uid, pw]) => [`dn: uid=${uid},${LDAP_PEOPLE}`, 'objectClass: inetOrgPerson',
      `uid: ${uid}`, `cn: ${uid[0].toUpperCase()}${uid.slice(1)} Directory`, 'sn: Directory', `userPassword: ${pw}`]),
  ];
  fs.writeFileSync(path.join(dir, 'data.ldif'), entries.map((e) => e.join('\n')).join('\n\n') + '\n');
  execFileSync('/usr/sbin/slapadd', ['-f', conf, '-l', path.join(dir, 'data.ldif')], { stdio: 'pipe' });
  ctx.ldapPort = await freePort();
  ctx.slapd = spawn('/usr/sbin/slapd', ['-f', conf, '-h', `ldap://127.0.0.1:${ctx.ldapPort}/`, '-d', '0'], { stdio: 'ignore' });
  ctx.slapdExited = new Promise((resolve) => ctx.slapd.on('exit', resolve));
  await waitForPort(ctx.ldapPort, 10000);
}

async function stopSlapd(ctx) {
  if (!ctx.slapd || ctx.slapd.exitCode !== null || ctx.slapd.signalCode !== null) return;
  ctx.slapd.kill('SIGTERM');
  const timer = setTimeout(() => ctx.slapd.kill('SIGKILL'), 10000);
  await ctx.slapdExited;
  clearTimeout(timer);
}

/*
 * Chromium takes its trust anchors from the NSS database under $HOME; the
 * test gives it a HOME of its own where authd's cluster CA is trusted for TLS
 * servers, exactly what `certutil -A` does for a person. Nothing is ignored:
 * a certificate authd did not issue would still fail.
 */
function trustAuthdCA(ctx) {
  const db = path.join(ctx.dir, 'home', '.pki', 'nssdb');
  fs.mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'authd cluster CA', '-t', 'C,,',
    '-i', path.join(ctx.dir, 'data', 'ca', 'cluster-ca.pem')]);
}

/* ---- zip ---- */

// The names in a zip's central directory (found from the end-of-directory record).
function zipNames(buf) {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const names = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('bad central directory entry');
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    names.push(buf.toString('utf8', p + 46, p + 46 + nameLen));
    p += 46 + nameLen + extraLen + commentLen;
  }
  return names;
}

/* ---- page helpers ---- */

async function screenshot(ctx, name) {
  await ctx.page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

async function openPanel(ctx, title) {
  await ctx.page.locator('#nav').getByRole('button', { name: title, exact: true }).click();
}

// The panel reloads its forms from the API each time it opens: edits made
// before that load ends would be overwritten, so wait for it.
async function openAuthPanel(ctx) {
  const before = Number(await panel(ctx, 'auth').getAttribute('data-loads'));
  await openPanel(ctx, 'Authentication & Authorization');
  await ctx.page.waitForFunction((n) => Number(document.querySelector('#panel-auth').dataset.loads) > n, before);
}

function panel(ctx, id) {
  return ctx.page.locator(`#panel-${id}`);
}

async function sessionToken(ctx) {
  return ctx.page.evaluate(() => sessionStorage.getItem('authd.token'));
}

/* ---- steps ---- */

async function pageRenders(t, ctx) {
  const res = await ctx.page.goto(ctx.url);
  t.equal(res.status(), 200, 'GET /');
  const csp = res.headers()['content-security-policy'] || '';
  t.ok(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"), `strict CSP on the page, got "${csp}"`);
  // #signin starts hidden in the markup: only the page's script shows it
  await ctx.page.getByRole('heading', { name: 'Sign in' }).waitFor({ state: 'visible' });
  const bar = await ctx.page.locator('.topbar').evaluate((el) => getComputedStyle(el).backgroundColor);
  t.equal(bar, 'rgb(23, 50, 79)', 'the stylesheet is applied');
  await screenshot(ctx, '01-sign-in');

  // the files revalidate by entity tag; unknown ones are the API's 404
  const js = await call(ctx, 'GET', '/web/app.js');
  t.equal(js.headers['content-type'], 'text/javascript; charset=utf-8', 'a module is served as JavaScript');
  t.equal(js.headers['x-content-type-options'], 'nosniff', 'nosniff');
  t.equal(js.headers['cache-control'], 'no-cache', 'revalidated on each load');
  const again = await call(ctx, 'GET', '/web/app.js', { headers: { 'If-None-Match': js.headers.etag } });
  t.equal(again.status, 304, 'unchanged since the last load');
  const missing = await call(ctx, 'GET', '/web/nothing.js');
  t.equal(missing.status, 404, 'an unknown file');
  t.equal(missing.json && missing.json.errors[0].code, 'NOT_FOUND', 'the 404 is the API error shape');
}

async function signInRefused(t, ctx) {
  const form = ctx.page.locator('#signin-form');
  await form.getByLabel('Username').fill('admin');
  await form.getByLabel('Password').fill('not-the-password');
  await form.getByRole('button', { name: 'Sign in' }).click();
  const alert = form.getByRole('alert');
  await alert.waitFor({ state: 'visible' });
  t.ok((await alert.textContent()).includes('wrong username or password'), 'the refusal is shown');
}

async function signIn(t, ctx, password = ADMIN_PASSWORD) {
  const form = ctx.page.locator('#signin-form');
  await form.getByLabel('Username').fill('admin');
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await ctx.page.locator('#whoami').getByText('Signed in as admin').waitFor();
  const token = await sessionToken(ctx);
  t.ok(token && token.length > 20, 'the token is kept in sessionStorage');
  t.ok(!ctx.page.url().includes(token), 'the token is not in the URL');
}

async function usersPanel(t, ctx) {
  await openPanel(ctx, 'Users');
  const p = panel(ctx, 'users');
  const create = p.locator('#user-create');
  await create.getByLabel('Username').fill('alice');
  await create.getByLabel('Full name').fill('Alice Liddell');
  await create.getByLabel('Password').fill('alice-password-1');
  await create.getByRole('button', { name: 'Create user' }).click();
  await create.getByText('Created user "alice".').waitFor();
  const row = p.locator('#users-table tr', { hasText: 'alice' });
  await row.waitFor();

  // a name the API refuses: its message sits next to the field it names
  await create.getByLabel('Username').fill('bad name');
  await create.getByLabel('Password').fill('whatever-pass');
  await create.getByRole('button', { name: 'Create user' }).click();
  const fieldError = create.locator('#user-create-name-error');
  await fieldError.waitFor();
  t.ok((await fieldError.textContent()).startsWith('name:'), 'field error next to Username');
  t.equal(await create.getByLabel('Username').getAttribute('aria-invalid'), 'true', 'the field is marked invalid');
  await create.getByLabel('Username').fill('');
  await create.getByLabel('Password').fill('');

  // search by prefix, then deactivate and activate again
  await p.getByLabel('Name starts with').fill('ali');
  await p.getByRole('button', { name: 'Search' }).click();
  // the table is redrawn when the answer comes: wait for the new rows, not the old ones
  await ctx.page
    .waitForFunction(() => document.querySelectorAll('#users-table tbody tr').length === 1, null, { timeout: 10000 })
    .catch(() => {});
  t.equal(await p.locator('#users-table tbody tr').count(), 1, 'the prefix search finds alice only');
  await row.getByRole('button', { name: 'Deactivate' }).click();
  await row.getByText('inactive').waitFor();
  await row.getByRole('button', { name: 'Activate' }).click();
  await row.getByText('active', { exact: true }).waitFor();
  const r = await call(ctx, 'GET', '/enzi/v0/accounts/alice', { token: await sessionToken(ctx) });
  t.equal(r.json.isActive, true, 'alice is active again');
  await screenshot(ctx, '02-users');
}

async function orgsPanel(t, ctx) {
  await openPanel(ctx, 'Organizations & teams');
  const p = panel(ctx, 'orgs');
  await p.getByLabel('Organization name').fill('eng');
  await p.getByRole('button', { name: 'Create organization' }).click();
  await p.getByRole('heading', { name: 'Organization eng' }).waitFor();
  await p.getByLabel('Team name').fill('devs');
  await p.getByLabel('Description').fill('Developers');
  await p.getByRole('button', { name: 'Create team' }).click();
  await p.getByRole('heading', { name: 'Team eng / devs' }).waitFor();
  await p.getByLabel('Add team member (username)').fill('alice');
  await p.getByRole('button', { name: 'Add to team' }).click();
  await p.locator('#team-members tr', { hasText: 'alice' }).waitFor();
  const r = await call(ctx, 'GET', '/enzi/v0/accounts/eng/teams/devs/members/alice', { token: await sessionToken(ctx) });
  t.equal(r.status, 200, 'alice is in eng/devs');

  // the team's LDAP sync form is there whatever the API answers; an error is shown, not hidden
  const sync = p.locator('#team-sync');
  for (const label of ['Enable sync of team members', 'Group DN', 'Group Member Attribute', 'Include members of nested groups', 'Search Base DN', 'Search Filter', 'Allow non-LDAP members']) {
    await sync.getByLabel(label, { exact: true }).waitFor();
  }
  const api = await call(ctx, 'GET', '/enzi/v0/accounts/eng/teams/devs/memberSyncConfig', { token: await sessionToken(ctx) });
  if (api.status !== 200) {
    const alert = sync.locator('.form-alert');
    await alert.waitFor({ state: 'visible' });
    t.equal(await alert.textContent(), api.json.errors[0].message, "the API's error is shown");
  }
  await screenshot(ctx, '03-orgs-teams');
}

async function rolesPanel(t, ctx) {
  await openPanel(ctx, 'Roles');
  const p = panel(ctx, 'roles');
  for (const name of ['None', 'View Only', 'Restricted Control', 'Scheduler', 'Full Control']) {
    await p.locator('#roles-list td', { hasText: new RegExp(`^${name}$`, 'i') }).first().waitFor();
  }
  await p.getByLabel('Role name').fill('volume viewer');
  await p.locator('#role-ops').getByLabel('Volume View', { exact: true }).check();
  await p.getByRole('button', { name: 'Create role' }).click();
  const row = p.locator('#roles-list tr', { hasText: 'volume viewer' });
  await row.waitFor();
  const roles = (await call(ctx, 'GET', '/roles', { token: await sessionToken(ctx) })).json;
  const made = roles.find((r) => r.name === 'volume viewer');
  t.ok(made && made.operations.Volume && made.operations.Volume['Volume View'], 'the role holds Volume View');
  await screenshot(ctx, '04-roles');
  await row.getByRole('button', { name: 'Delete' }).click();
  await row.waitFor({ state: 'detached' });
}

async function collectionsPanel(t, ctx) {
  await openPanel(ctx, 'Collections');
  const p = panel(ctx, 'collections');
  await p.getByLabel('Parent collection').selectOption({ label: '/Shared' });
  await p.getByLabel('Collection name').fill('web');
  await p.getByRole('button', { name: 'Create collection' }).click();
  await p.locator('#collections-list code', { hasText: /^\/Shared\/web$/ }).waitFor();
  const r = await call(ctx, 'GET', '/collectionByPath?path=/Shared/web', { token: await sessionToken(ctx) });
  t.equal(r.status, 200, '/Shared/web exists');
  ctx.collectionID = r.json.id;
  await screenshot(ctx, '05-collections');
}

async function grantsPanel(t, ctx) {
  await openPanel(ctx, 'Grants');
  const p = panel(ctx, 'grants');
  await p.getByLabel('Subject type').selectOption('team');
  await p.getByLabel('Organization of the team').fill('eng');
  await p.getByLabel('Subject name').fill('devs');
  await p.getByLabel('Collection', { exact: true }).selectOption({ label: '/Shared/web' });
  await p.getByLabel('Role', { exact: true }).selectOption('restrictedcontrol');
  await p.getByRole('button', { name: 'Create grant' }).click();
  await p.locator('#grants-list tr', { hasText: 'team eng/devs' }).waitFor();
  const token = await sessionToken(ctx);
  const team = (await call(ctx, 'GET', '/enzi/v0/accounts/eng/teams/devs', { token })).json;
  const grants = (await call(ctx, 'GET', '/collectionGrants', { token })).json.grants;
  t.ok(grants.some((g) => g.subjectID === team.id && g.objectID === ctx.collectionID && g.roleID === 'restrictedcontrol'),
    'the grant is stored');
  await screenshot(ctx, '06-grants');
}

// What this page can show before a directory is involved: every field of
// SPEC §6.1 with its label, and the ordered lists' add, move and remove.
async function authPanelForm(t, ctx) {
  await openAuthPanel(ctx);
  const form = panel(ctx, 'auth').locator('#ldap-form');
  const labels = ['LDAP Server URL', 'Failover Server URLs', 'Reader DN', 'Reader Password', 'Use Start TLS', 'Skip TLS Verification',
    'No Simple Pagination (RFC 2696)', 'Root Certificates', 'Unique ID Attribute', 'Member Range Size', 'Just-In-Time User Provisioning', 'Base DN',
    'Username Attribute', 'Full Name Attribute', 'Filter', 'Search subtree instead of just one level',
    'Select Group Members', 'Iterate through group members', 'Group DN', 'Group Member Attribute',
    'Sync Interval', 'Enable sync of admin users', 'Follow Referrals', 'Timeout (seconds)', 'Maximum deactivations (%)'];
  for (const label of labels) {
    const field = form.getByLabel(label, { exact: true }).first();
    await field.waitFor();
    const help = await field.evaluate((el) => el.closest('.field').querySelector('.help')?.textContent || '');
    t.ok(help.length > 10, `"${label}" has a help line`);
  }
  t.equal(await form.locator('#ldap-searches').getByLabel('Username Attribute').inputValue(), 'uid', 'default username attribute');

  await form.getByRole('button', { name: 'Add LDAP domain' }).click();
  await form.getByRole('button', { name: 'Add LDAP domain' }).click();
  const domains = form.locator('#ldap-domains').getByLabel('LDAP Domain');
  await domains.nth(0).fill('a.example.com');
  await domains.nth(1).fill('b.example.com');
  await form.getByRole('button', { name: 'Move Domain server 1 down' }).click();
  t.equal(await domains.nth(0).inputValue(), 'b.example.com', 'moved down');
  t.equal(await domains.nth(1).inputValue(), 'a.example.com', 'moved up');
  await form.getByRole('button', { name: 'Remove Domain server 1' }).click();
  t.equal(await domains.count(), 1, 'one domain left');
  t.equal(await domains.nth(0).inputValue(), 'a.example.com', 'the remaining domain kept its value');
  await form.getByRole('button', { name: 'Add user search configuration' }).click();
  t.equal(await form.locator('#ldap-searches').getByLabel('Base DN').count(), 2, 'two user searches');
  await form.getByRole('button', { name: 'Remove User search 2' }).click();

  const api = await call(ctx, 'GET', '/enzi/v0/config/auth/ldap', { token: await sessionToken(ctx) });
  if (api.status !== 200) {
    const alert = form.locator('.form-alert').first();
    await alert.waitFor({ state: 'visible' });
    t.equal(await alert.textContent(), api.json.errors[0].message, "the API's error is shown");
  }
  await screenshot(ctx, '07-authentication');
}

// The session settings card: the defaults (no config file: 60, every use
// renews, no limit), a refusal next to its field, a save that the API and a
// reload show, and the backend's own save leaving them as they are.
async function sessionSettings(t, ctx) {
  await openPanel(ctx, 'Users');
  await openAuthPanel(ctx);
  const form = panel(ctx, 'auth').locator('#auth-sessions');
  const lifetime = form.getByLabel('Session lifetime (minutes)');
  const renewal = form.getByLabel('Renewal threshold (minutes)');
  const limit = form.getByLabel('Per-user session limit');
  t.equal(await lifetime.inputValue(), '60', 'the default lifetime');
  t.equal(await renewal.inputValue(), '60', 'the default renewal threshold');
  t.equal(await limit.inputValue(), '0', 'the default limit');

  await lifetime.fill('0');
  await form.getByRole('button', { name: 'Save session settings' }).click();
  const err = lifetime.locator('xpath=ancestor::div[contains(@class,"field")]').locator('.field-error');
  await err.waitFor();
  t.ok((await err.textContent()).startsWith('sessions.lifetimeMinutes:'), 'the refusal sits next to the lifetime');
  t.equal(await lifetime.getAttribute('aria-invalid'), 'true', 'the lifetime is marked invalid');

  await lifetime.fill('240');
  await renewal.fill('30');
  await limit.fill('50');
  await form.getByRole('button', { name: 'Save session settings' }).click();
  await form.getByText('Session settings saved.').waitFor();
  t.equal(await err.count(), 0, 'the refusal is gone');
  const token = await sessionToken(ctx);
  let stored = (await call(ctx, 'GET', '/enzi/v0/config/auth', { token })).json;
  t.equal(JSON.stringify(stored.sessions), '{"lifetimeMinutes":240,"renewalThresholdMinutes":30,"perUserLimit":50}', 'the API has them');

  // the backend's save sends no sessions: they stay
  const p = panel(ctx, 'auth');
  await p.getByRole('button', { name: 'Save backend' }).click();
  await p.locator('#auth-backend').getByText('Backend saved.').waitFor();
  stored = (await call(ctx, 'GET', '/enzi/v0/config/auth', { token })).json;
  t.equal(stored.sessions.lifetimeMinutes, 240, 'saving the backend keeps the sessions');

  await openPanel(ctx, 'Users');
  await openAuthPanel(ctx);
  t.equal(await lifetime.inputValue(), '240', 'the lifetime, read back');
  t.equal(await renewal.inputValue(), '30', 'the renewal threshold, read back');
  t.equal(await limit.inputValue(), '50', 'the limit, read back');
  await form.locator('xpath=ancestor::div[contains(@class,"card")]').screenshot({ path: path.join(ARTIFACTS, '07b-sessions.png') });
}

/* ---- LDAP, against the test slapd ---- */

async function ldapFillForm(t, ctx) {
  await startSlapd(ctx);
  // opening the panel again reloads the stored settings, dropping the list checks' edits
  await openPanel(ctx, 'Users');
  await openAuthPanel(ctx);
  const p = panel(ctx, 'auth');
  const form = p.locator('#ldap-form');
  await p.locator('#auth-backend').getByLabel('Authentication backend').selectOption('ldap');
  await p.getByRole('button', { name: 'Save backend' }).click();
  await p.locator('#auth-backend').getByText('Backend saved.').waitFor();

  // a URL the API refuses: its message lands next to LDAP Server URL
  const url = form.getByLabel('LDAP Server URL', { exact: true }).first();
  await url.fill('http://127.0.0.1');
  await form.getByLabel('Base DN', { exact: true }).fill(LDAP_PEOPLE);
  await form.getByRole('button', { name: 'Save LDAP settings' }).click();
  const err = url.locator('xpath=ancestor::div[contains(@class,"field")]').locator('.field-error');
  await err.waitFor();
  t.ok((await err.textContent()).startsWith('serverURL:'), 'the refusal sits next to LDAP Server URL');

  await url.fill(`ldap://127.0.0.1:${ctx.ldapPort}`);
  // a second server, tried only when the first cannot be reached
  await form.getByLabel('Failover Server URLs', { exact: true }).first().fill('ldap://127.0.0.1:1\n');
  await form.getByLabel('Reader DN', { exact: true }).first().fill(LDAP_READER);
  await form.getByLabel('Reader Password', { exact: true }).first().fill('reader-pw');
  await form.getByLabel('Filter', { exact: true }).fill('(objectClass=inetOrgPerson)');
  t.ok(await form.getByLabel('Just-In-Time User Provisioning').isChecked(), 'JIT is on by default');
}

async function ldapTestLoginSucceeds(t, ctx) {
  const p = panel(ctx, 'auth');
  const tryForm = p.locator('#ldap-try');
  await tryForm.getByLabel('Username').fill('carol');
  await tryForm.getByLabel('Password').fill(LDAP_USERS.carol);
  await tryForm.getByRole('button', { name: 'Test login' }).click();
  const ok = p.locator('#ldap-try-result .result-ok');
  await ok.waitFor();
  t.equal(await ok.textContent(), `Login succeeded as carol (uid=carol,${LDAP_PEOPLE}).`, 'the success line');
  const log = await p.locator('#ldap-try-result pre').textContent();
  t.ok(log.includes(`bind as user uid=carol,${LDAP_PEOPLE}: ok`), `the log shows the user's bind:\n${log}`);
  const stored = await call(ctx, 'GET', '/enzi/v0/accounts/carol', { token: await sessionToken(ctx) });
  t.equal(stored.status, 404, 'a test login stores nothing');
}

async function ldapTestLoginWrongPassword(t, ctx) {
  const p = panel(ctx, 'auth');
  const tryForm = p.locator('#ldap-try');
  await tryForm.getByLabel('Password').fill('not-carols-password');
  await tryForm.getByRole('button', { name: 'Test login' }).click();
  const fail = p.locator('#ldap-try-result .result-fail');
  await fail.waitFor();
  const alert = tryForm.getByRole('alert');
  t.ok((await alert.textContent()).includes('Invalid credentials'), 'the alert names the LDAP error');
  const lines = (await p.locator('#ldap-try-result pre').textContent()).split('\n');
  t.ok(lines.at(-1).startsWith(`bind as user uid=carol,${LDAP_PEOPLE} failed`), `the last log line is the failing step: ${lines.at(-1)}`);
  t.ok(await alert.isVisible(), 'the alert is visible');
  await screenshot(ctx, '10-ldap-test-login');
}

async function ldapSave(t, ctx) {
  const p = panel(ctx, 'auth');
  await p.getByRole('button', { name: 'Save LDAP settings' }).click();
  await p.locator('#ldap-form').getByText('LDAP settings saved.').waitFor();
  // back from the API: the values stay and the password is only said to be set
  await openPanel(ctx, 'Users');
  await openAuthPanel(ctx);
  const form = p.locator('#ldap-form');
  t.equal(await form.getByLabel('LDAP Server URL', { exact: true }).first().inputValue(), `ldap://127.0.0.1:${ctx.ldapPort}`, 'the URL was stored');
  t.equal(await form.getByLabel('Failover Server URLs', { exact: true }).first().inputValue(), 'ldap://127.0.0.1:1', 'the failover URL was stored');
  const pw = form.getByLabel('Reader Password', { exact: true }).first();
  t.equal(await pw.inputValue(), '', 'the password is not shown');
  t.equal(await pw.getAttribute('placeholder'), '(set — leave empty to keep)', 'the password is said to be set');
  const stored = (await call(ctx, 'GET', '/enzi/v0/config/auth/ldap', { token: await sessionToken(ctx) })).json;
  t.equal(stored.readerPasswordSet, true, 'readerPasswordSet');
  t.equal(JSON.stringify(stored.serverURLs), JSON.stringify([`ldap://127.0.0.1:${ctx.ldapPort}`, 'ldap://127.0.0.1:1']), 'serverURLs lists both, in order');
  t.equal(stored.userSearchConfigs[0].baseDN, LDAP_PEOPLE, 'the user search was stored');
}

async function ldapUserSignsIn(t, ctx) {
  // with JIT on, a directory user's first login makes the account
  const r = await call(ctx, 'POST', '/auth/login', { body: { username: 'dave', password: LDAP_USERS.dave } });
  t.equal(r.status, 200, `dave signs in with the directory password (${r.text})`);
  await openPanel(ctx, 'Users');
  const p = panel(ctx, 'users');
  await p.getByLabel('Name starts with').fill('');
  await p.getByRole('button', { name: 'Search' }).click();
  const row = p.locator('#users-table tr', { hasText: 'dave' });
  await row.waitFor();
  t.ok(await row.getByText('LDAP', { exact: true }).isVisible(), 'dave is listed as imported from LDAP');
}

/*
 * Sync now (SPEC §6.5). With just-in-time provisioning on, a sync only keeps
 * the accounts there are; turned off, it also makes the directory's users
 * who have not signed in yet. The page follows the job until it is done;
 * then its summary (usersFound 2: carol made, dave there already), its log
 * (the change, and no password), and carol and dave in the Users panel.
 */
async function ldapSyncNow(t, ctx) {
  await openPanel(ctx, 'Users');
  await openAuthPanel(ctx);
  const p = panel(ctx, 'auth');
  const form = p.locator('#ldap-form');
  await form.getByLabel('Just-In-Time User Provisioning').uncheck();
  await form.getByRole('button', { name: 'Save LDAP settings' }).click();
  await form.getByText('LDAP settings saved.').waitFor();

  const sync = p.locator('#ldap-sync');
  await sync.getByRole('button', { name: 'Sync now' }).click();
  const started = sync.getByText(/^Sync started \(job [^)]+\)\.$/);
  await started.waitFor();
  const id = (await started.textContent()).match(/\(job ([^)]+)\)/)[1];
  // the list polls while a job waits or runs: the newest row turns done by itself
  const row = p.locator('#jobs-list tbody tr').first();
  await row.getByText('done', { exact: true }).waitFor();
  const job = (await call(ctx, 'GET', `/enzi/v0/jobs/${id}`, { token: await sessionToken(ctx) })).json;
  t.equal(job.status, 'done', 'the job');
  t.equal(job.summary.usersFound, 2, 'usersFound');
  t.equal(job.summary.created, 1, 'created');
  t.equal(job.summary.deactivated, 0, 'deactivated');
  const summary = await row.textContent();
  t.ok(summary.includes('usersFound 2') && summary.includes('created 1'), `the row shows the summary: ${summary}`);

  await row.getByRole('button', { name: 'View log' }).click();
  await p.locator('#job-log-title').getByText(`Log of job ${id}`).waitFor();
  const log = await p.locator('#job-log-text').textContent();
  t.ok(log.includes(`change: create carol dn=uid=carol,${LDAP_PEOPLE}`), `the log names the change:\n${log}`);
  t.ok(log.includes('done in'), 'the log ends with the outcome');
  for (const secret of ['reader-pw', ...Object.values(LDAP_USERS)]) t.ok(!log.includes(secret), 'no password in the log');
  await screenshot(ctx, '11-ldap-sync');

  await openPanel(ctx, 'Users');
  const users = panel(ctx, 'users');
  await users.getByLabel('Name starts with').fill('');
  await users.getByRole('button', { name: 'Search' }).click();
  for (const name of Object.keys(LDAP_USERS)) {
    const user = users.locator('#users-table tr', { hasText: name });
    await user.waitFor();
    t.ok(await user.getByText('LDAP', { exact: true }).isVisible(), `${name} is listed as imported from LDAP`);
  }
}

async function certsRefused(t, ctx) {
  await openPanel(ctx, 'Certificates');
  const p = panel(ctx, 'certs');
  const before = (await call(ctx, 'GET', '/api/config/certs', { token: await sessionToken(ctx) })).json;
  await p.locator('#certs-current').getByText(before.fingerprint).waitFor();
  // authd's own CA and certificate, with a key that is not the certificate's
  const data = path.join(ctx.dir, 'data');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  await p.getByLabel('CA certificate (ca.pem)').fill(fs.readFileSync(path.join(data, 'ca', 'cluster-ca.pem'), 'utf8'));
  await p.getByLabel('Certificate (cert.pem, with intermediates)').fill(fs.readFileSync(path.join(data, 'tls', 'server-cert.pem'), 'utf8'));
  await p.getByLabel('Private key (key.pem, unencrypted)').fill(privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await p.getByRole('button', { name: 'Upload certificate' }).click();
  const fieldError = p.locator('#certs-key-error');
  await fieldError.waitFor();
  t.equal(await fieldError.textContent(), 'key: the key does not match the certificate', 'the refusal sits next to the key');
  t.ok(await p.locator('#certs-upload').getByRole('alert').first().isVisible(), 'and in the alert region');
  const after = (await call(ctx, 'GET', '/api/config/certs', { token: await sessionToken(ctx) })).json;
  t.equal(after.fingerprint, before.fingerprint, 'the served certificate is unchanged');
  await screenshot(ctx, '08-certificates');
}

// The records in the audit table, as the page shows them: [seq, event text, actor].
async function auditRows(ctx) {
  return panel(ctx, 'audit').locator('#audit-table tbody tr').evaluateAll((rows) => rows.map((r) => {
    const cells = [...r.querySelectorAll('td')].map((td) => td.textContent);
    return [Number(cells[0]), cells[2], cells[3]];
  }));
}

// Waits for the table to be redrawn after a search or a page turn (its first seq changes).
async function auditRedrawn(ctx, before) {
  await ctx.page.waitForFunction((first) => {
    const cell = document.querySelector('#audit-table tbody tr td');
    const empty = document.querySelector('#audit-table p.muted');
    return (cell && cell.textContent !== first) || (empty && first !== 'empty');
  }, before, { timeout: 10000 });
}

async function firstSeq(ctx) {
  const cell = panel(ctx, 'audit').locator('#audit-table tbody tr td').first();
  return (await cell.count()) ? cell.textContent() : 'empty';
}

async function auditPanel(t, ctx) {
  await openPanel(ctx, 'Audit log');
  const p = panel(ctx, 'audit');
  await p.locator('#audit-table tbody tr').first().waitFor();
  const token = await sessionToken(ctx);
  const newest = (await call(ctx, 'GET', '/api/audit?limit=1', { token })).json.records[0];
  let rows = await auditRows(ctx);
  t.ok(rows[0][0] >= newest.seq - 1, `newest first: the page starts at ${rows[0][0]}, the log at ${newest.seq}`);
  t.ok(rows.every((r, i) => i === 0 || r[0] < rows[i - 1][0]), 'the records are in order, newest first');

  // the failed sign-in of the first steps, by event and account
  await p.getByLabel('Event').fill('login.failure');
  await p.getByLabel('Account').fill('admin');
  let before = await firstSeq(ctx);
  await p.getByRole('button', { name: 'Search' }).click();
  await auditRedrawn(ctx, before);
  rows = await auditRows(ctx);
  t.ok(rows.length >= 1 && rows.every((r) => r[1] === 'login.failure'), `only failed logins: ${JSON.stringify(rows)}`);

  // a prefix: alice's creation among the account changes
  await p.getByLabel('Event').fill('account.');
  await p.getByLabel('Account').fill('alice');
  before = await firstSeq(ctx);
  await p.getByRole('button', { name: 'Search' }).click();
  await auditRedrawn(ctx, before);
  rows = await auditRows(ctx);
  t.ok(rows.some((r) => r[1] === 'account.create' && r[2] === 'admin'), `admin created alice: ${JSON.stringify(rows)}`);
  t.ok(rows.every((r) => r[1].startsWith('account.')), 'only account changes');

  // a time range in the future holds nothing
  await p.getByLabel('Event').fill('');
  await p.getByLabel('Account').fill('');
  await p.getByLabel('From').fill('2999-01-01T00:00:00');
  before = await firstSeq(ctx);
  await p.getByRole('button', { name: 'Search' }).click();
  await p.locator('#audit-table').getByText('No records match.').waitFor();

  // Until before From: the refusal sits next to Until
  await p.getByLabel('Until').fill('2998-01-01T00:00:00');
  await p.getByRole('button', { name: 'Search' }).click();
  const fieldError = p.locator('#audit-until-error');
  await fieldError.waitFor();
  t.equal(await fieldError.textContent(), 'until: must not be before since', 'the refusal is shown at Until');

  // everything, ten a page: the next page goes on where the first stopped, and back
  await p.getByLabel('From').fill('');
  await p.getByLabel('Until').fill('');
  await p.getByLabel('Per page').selectOption('10');
  await p.getByRole('button', { name: 'Search' }).click();
  await ctx.page.waitForFunction(() => document.querySelectorAll('#audit-table tbody tr').length === 10);
  const first = await auditRows(ctx);
  await p.getByRole('button', { name: 'Next page' }).click();
  await auditRedrawn(ctx, String(first[0][0]));
  const second = await auditRows(ctx);
  t.equal(second[0][0], first[9][0] - 1, 'the second page starts after the first');
  await screenshot(ctx, '12-audit');
  await p.getByRole('button', { name: 'Previous page' }).click();
  await auditRedrawn(ctx, String(second[0][0]));
  t.equal((await auditRows(ctx))[0][0], first[0][0], 'back on the first page');
}

async function bundleDownload(t, ctx) {
  await openPanel(ctx, 'My profile');
  const p = panel(ctx, 'profile');
  await p.getByLabel('Label').fill('laptop');
  const [download] = await Promise.all([
    ctx.page.waitForEvent('download'),
    p.getByRole('button', { name: 'Generate bundle' }).click(),
  ]);
  t.equal(download.suggestedFilename(), 'bundle-admin.zip', 'the file name');
  const saved = path.join(ARTIFACTS, 'bundle-admin.zip');
  await download.saveAs(saved);
  const names = zipNames(fs.readFileSync(saved));
  for (const want of ['cert.pem', 'key.pem', 'ca.pem', 'env.sh']) t.ok(names.includes(want), `the zip holds ${want} (has ${names.join(', ')})`);
  await p.locator('#keys-list tr', { hasText: 'laptop' }).waitFor();
  await screenshot(ctx, '09-profile');
}

async function bundleRevoke(t, ctx) {
  const p = panel(ctx, 'profile');
  const row = p.locator('#keys-list tr', { hasText: 'laptop' });
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.waitFor({ state: 'detached' });
  const keys = (await call(ctx, 'GET', '/enzi/v0/accounts/admin/publicKeys', { token: await sessionToken(ctx) })).json;
  t.equal(keys.accountPublicKeys.length, 0, 'no key left');
}

async function changePassword(t, ctx) {
  const form = panel(ctx, 'profile').locator('#password-change');
  await form.getByLabel('Current password').fill(ADMIN_PASSWORD);
  await form.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
  await form.getByLabel('Repeat the new password').fill('something-else');
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.locator('#password-confirm-error').waitFor();
  await form.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
  await form.getByRole('button', { name: 'Change password' }).click();
  await form.getByText('Password changed.').waitFor();
  const old = await call(ctx, 'POST', '/auth/login', { body: { username: 'admin', password: ADMIN_PASSWORD } });
  t.equal(old.status, 401, 'the old password no longer works');
}

// Every input, select and text area of every section has a label (<label for>
// or a wrapping label), generated ones included.
async function everyFieldLabelled(t, ctx) {
  const unlabelled = await ctx.page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && el.labels.length === 0)
    .map((el) => el.id || el.name || el.outerHTML));
  t.equal(unlabelled.join(', '), '', 'fields without a label');
}

async function signOut(t, ctx) {
  const token = await sessionToken(ctx);
  await ctx.page.getByRole('button', { name: 'Sign out' }).click();
  await ctx.page.getByRole('heading', { name: 'Sign in' }).waitFor();
  t.equal(await sessionToken(ctx), null, 'the token is gone from sessionStorage');
  const r = await call(ctx, 'GET', '/enzi/v0/accounts/admin', { token });
  t.equal(r.status, 401, 'the token is revoked');
  await signIn(t, ctx, NEW_PASSWORD);
  await ctx.page.getByRole('button', { name: 'Sign out' }).click();
  await ctx.page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

const STEPS = [
  ['the page renders under its CSP', pageRenders],
  ['a wrong password is refused on the page', signInRefused],
  ['sign in', signIn],
  ['users: create, search, deactivate and activate', usersPanel],
  ['organizations and teams: create both, add the user', orgsPanel],
  ['roles: view, create, delete', rolesPanel],
  ['collections: create', collectionsPanel],
  ['grants: create for the team', grantsPanel],
  ['authentication: the LDAP form and its lists', authPanelForm],
  ['authentication: the session settings', sessionSettings],
  ['LDAP: fill the form for the test directory', ldapFillForm],
  ['LDAP: test login succeeds', ldapTestLoginSucceeds],
  ['LDAP: test login with a wrong password shows the failing step', ldapTestLoginWrongPassword],
  ['LDAP: save', ldapSave],
  ['LDAP: a directory user signs in and is listed as imported', ldapUserSignsIn],
  ['LDAP: sync now imports the users', ldapSyncNow],
  ['certificates: a refused upload is explained inline', certsRefused],
  ['audit log: filters, a refusal at its field, paging', auditPanel],
  ['profile: a bundle downloads with cert.pem and env.sh', bundleDownload],
  ['profile: revoke the bundle', bundleRevoke],
  ['profile: change the password', changePassword],
  ['every field has a label', everyFieldLabelled],
  ['sign out', signOut],
];

/* ---- runner ---- */

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  for (const f of fs.readdirSync(ARTIFACTS)) fs.rmSync(path.join(ARTIFACTS, f), { recursive: true, force: true });
  const ctx = { dir: fs.mkdtempSync(path.join(os.tmpdir(), 'authd-web-')) };
  const problems = []; // script errors and CSP refusals seen in the page
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  let browser;
  const started = Date.now();
  try {
    await startAuthd(ctx);
    trustAuthdCA(ctx);
    ctx.url = `https://127.0.0.1:${ctx.port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox'],
      env: { ...process.env, HOME: path.join(ctx.dir, 'home') },
    });
    const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(TIMEOUT_MS);
    ctx.page = await context.newPage();
    ctx.page.on('dialog', (d) => d.accept());
    ctx.page.on('pageerror', (e) => problems.push(`script error: ${e.message}`));
    ctx.page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
    });

    let broken = null;
    for (const [name, fn] of STEPS) {
      const t = new Check(name);
      if (broken) {
        console.log(`not run: ${name} (after "${broken}" failed)`);
        failed++;
        continue;
      }
      const t0 = Date.now();
      try {
        await fn(t, ctx);
        if (problems.length) throw new Error(problems.join('\n'));
        passed++;
        console.log(`ok: ${name} (${Date.now() - t0} ms)`);
      } catch (err) {
        if (err.skipped) {
          skipped++;
          console.log(`skipped: ${name}: ${err.message}`);
          continue;
        }
        failed++;
        broken = name;
        console.log(`FAILED: ${name}: ${err.message}`);
        await ctx.page.screenshot({ path: path.join(ARTIFACTS, 'failure.png'), fullPage: true }).catch(() => {});
      }
    }
  } catch (err) {
    failed++;
    console.log(`FAILED: setup: ${err.stack || err.message}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    // a clean stop is part of the test: a sanitizer report or a crash ends otherwise
    const end = await stopAuthd(ctx).catch((e) => ({ code: e.message }));
    if (end && (end.code !== 0 || end.sig)) {
      failed++;
      console.log(`FAILED: authd did not stop cleanly on SIGTERM (exit ${end.code}, signal ${end.sig}); see authd.log`);
    }
    await stopSlapd(ctx).catch(() => {});
    if (ctx.logPath && fs.existsSync(ctx.logPath)) fs.copyFileSync(ctx.logPath, path.join(ARTIFACTS, 'authd.log'));
    fs.rmSync(ctx.dir, { recursive: true, force: true });
  }
  console.log(`artifacts in ${ARTIFACTS}; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`web: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
}

main();
