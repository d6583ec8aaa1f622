// Forms described as data: each field spec has the JSON key, the label, a
// one-line help and a type, so that the LDAP settings (SPEC §6.1) and the
// group sync settings (§6.5) are rendered and read back by one piece of code.
// Every input gets data-field = its JSON path ("userSearchConfigs[0].baseDN"),
// which is how the API's errors find their field.

import { h } from './ui.js';

let serial = 0;

function idFor(path) {
  serial += 1;
  return `f${serial}-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;
}

function join(prefix, key) {
  return prefix ? `${prefix}.${key}` : key;
}

function helpText(spec, values) {
  if (spec.type === 'password' && spec.setFlag && values[spec.setFlag]) {
    return `${spec.help} (set — leave empty to keep)`;
  }
  return spec.help;
}

function control(spec, value, path, id, values) {
  const common = { id, name: path, dataset: { field: path } };
  switch (spec.type) {
    case 'checkbox':
      return h('input', { ...common, type: 'checkbox', checked: Boolean(value) });
    case 'textarea':
      return h('textarea', { ...common, rows: spec.rows || 4, spellcheck: 'false', value: value ?? '' });
    case 'number':
      return h('input', { ...common, type: 'number', min: spec.min, max: spec.max, step: 1, value: value ?? '' });
    case 'password':
      return h('input', {
        ...common,
        type: 'password',
        autocomplete: 'new-password',
        value: value ?? '', // only ever what was typed: the API never returns a password
        placeholder: spec.setFlag && values[spec.setFlag] ? '(set — leave empty to keep)' : '',
      });
    case 'select':
      return h('select', common, spec.options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
    default:
      return h('input', { ...common, autocomplete: 'off', placeholder: spec.placeholder || '', value: value ?? '' });
  }
}

// A yes/no choice shown as two radio buttons (e.g. group members vs search results).
function radios(spec, value, path) {
  const chosen = value === undefined ? spec.default : value;
  return h('fieldset', { class: 'field', dataset: { field: path } },
    h('legend', {}, spec.label),
    spec.choices.map(([v, label]) => {
      const id = idFor(`${path}-${v}`);
      return h('div', { class: 'field check' },
        h('input', { id, type: 'radio', name: path, value: String(v), checked: chosen === v }),
        h('label', { for: id }, label));
    }),
    h('p', { class: 'help' }, spec.help));
}

export function renderField(spec, values, prefix = '') {
  const path = join(prefix, spec.key);
  const value = values[spec.key] === undefined ? spec.default : values[spec.key];
  if (spec.type === 'radio') return radios(spec, values[spec.key], path);
  const id = idFor(path);
  const input = control(spec, value, path, id, values);
  const label = h('label', { for: id }, spec.label);
  const help = h('p', { class: 'help', id: `${id}-help` }, helpText(spec, values));
  input.setAttribute('aria-describedby', `${id}-help`);
  if (spec.type === 'checkbox') return h('div', { class: 'field check' }, input, label, help);
  return h('div', { class: 'field' }, label, input, help);
}

export function renderFields(specs, values, prefix = '') {
  return h('div', { class: 'grid' }, specs.map((s) => renderField(s, values || {}, prefix)));
}

function findInput(root, path) {
  return [...root.querySelectorAll('[data-field]')].find((el) => el.dataset.field === path && el.tagName !== 'FIELDSET');
}

// Reads the specs' values back; an empty write-only password is left out, which
// the API takes as "keep the stored one".
export function readFields(root, specs, prefix = '') {
  const out = {};
  for (const spec of specs) {
    const path = join(prefix, spec.key);
    if (spec.type === 'radio') {
      const picked = [...root.querySelectorAll('input[type="radio"]')].find((r) => r.name === path && r.checked);
      out[spec.key] = picked ? picked.value === 'true' : spec.default;
      continue;
    }
    const el = findInput(root, path);
    if (!el) continue;
    if (spec.type === 'checkbox') out[spec.key] = el.checked;
    else if (spec.type === 'number') out[spec.key] = el.value === '' ? spec.default : Number(el.value);
    else if (spec.type === 'password') {
      if (el.value !== '') out[spec.key] = el.value;
    } else out[spec.key] = el.value.trim();
  }
  return out;
}

// Group-based sync of a set of members (SPEC §6.5), shared by a team's
// memberSyncConfig and the LDAP settings' adminSyncOpts.
export function groupSyncFields(what) {
  return [
    { key: 'enableSync', type: 'checkbox', label: what.enableLabel, help: what.enableHelp },
    {
      key: 'selectGroupMembers', type: 'radio', label: 'How members are found', default: true,
      choices: [[true, 'Match group members'], [false, 'Match search results']],
      help: 'Either the members of one group, or every user an LDAP search finds.',
    },
    { key: 'groupDN', label: 'Group DN', help: 'The group whose members are taken (with "Match group members").' },
    {
      key: 'groupMemberAttr', label: 'Group Member Attribute', default: 'member',
      help: 'The group attribute that lists members: member, uniqueMember (DNs) or memberUid (usernames).',
    },
    {
      key: 'followNestedGroups', type: 'checkbox', label: 'Include members of nested groups',
      help: 'Also take the members of groups that are members of the group, at any depth up to 10 levels (not with memberUid).',
    },
    { key: 'searchBaseDN', label: 'Search Base DN', help: 'Where the search starts (with "Match search results").' },
    {
      key: 'searchScopeSubtree', type: 'checkbox', label: 'Search subtree instead of just one level',
      help: 'Search below the base DN at every depth, not only its direct children.',
    },
    { key: 'searchFilter', label: 'Search Filter', help: 'An LDAP filter the found users must match, e.g. (department=ops).' },
  ];
}
