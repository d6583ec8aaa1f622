// Certificates panel: what authd serves over HTTPS (GET /api/config/certs),
// and replacing it with an uploaded CA, certificate and key (PUT). A refusal
// names the part at fault, and the message is shown next to that field.

import * as api from './api.js';
import { $, $$, h, details, onSubmit, note, loadList, value } from './ui.js';

const card = () => $('#certs-current').closest('.card');

function show(c) {
  details($('#certs-current'), [
    ['Subject', c.subject],
    ['Issuer', c.issuer],
    ['Names (SANs)', (c.sans || []).join(', ') || '–'],
    ['Valid from', c.notBefore],
    ['Valid until', c.notAfter],
    ['SHA-256 fingerprint', h('code', {}, c.fingerprint)],
    ['Managed in', c.source === 'config' ? 'the config file (tls.cert): uploads are refused' : 'the data dir (uploads replace it)'],
  ]);
}

const load = () => loadList(card(), async () => show(await api.get('/api/config/certs')));

export default {
  id: 'certs',
  title: 'Certificates',
  admin: true,
  init() {
    // a chosen file only fills its text box: nothing is sent until Upload
    for (const input of $$('#certs-upload input[type="file"]')) {
      input.addEventListener('change', async () => {
        const file = input.files && input.files[0];
        if (file) $(`#${input.dataset.target}`).value = await file.text();
      });
    }
    onSubmit($('#certs-upload'), async (form) => {
      const current = await api.put('/api/config/certs', {
        ca: value(form, 'ca'),
        cert: value(form, 'cert'),
        key: value(form, 'key'),
      });
      form.reset();
      show(current);
      note(form, 'Certificate replaced: new connections get it now.');
    });
  },
  async show() {
    await load();
  },
};
