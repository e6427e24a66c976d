// reasons.js — why a captured mail landed where it did, in plain words.
//
// The capture (src/route, src/match) gives every assignment a reason
// {field, rule, detail}; the review adds {field, rule: "review"}. Each rule
// gets a sentence of its own (i18n keys reason.FIELD.RULE); details that
// name a record by key or number are shown with the record's name where
// the entry knows it.

import { has, t } from './i18n.js';

const FIELD_ICONS = {
  tenant: 'building-2',
  user: 'user',
  contact: 'contact-round',
  company: 'building-2',
  lead: 'target',
  project: 'folder-kanban',
  forwarded: 'forward',
};

const WARN = new Set([
  'company.conflict',
  'contact.ambiguous-address',
  'contact.suggest-create',
  'contact.too-many-recipients',
  'contact.message-scan-several',
]);

function allItems(entry, kind) {
  const list = [];
  if (kind === 'contact') list.push(...(entry.contacts || []));
  else if (entry[kind]) list.push(entry[kind]);
  const cands = (entry.candidates || {})[kind];
  if (cands) list.push(...cands);
  return list;
}

/** The name of a record of the entry named by key (or lead number). */
function nameOf(entry, kind, key) {
  if (!key) return '';
  const found = allItems(entry, kind).find((i) => i.key === key || i.number === key);
  return found ? found.name : '';
}

function recordLabel(entry, kind, key) {
  if (!key || key === 'none') return t('reason.none');
  const name = nameOf(entry, kind, key);
  if (kind === 'lead') return name ? t('reason.lead_named', { number: key, name }) : t('reason.lead_key', { number: key });
  if (kind === 'project') return name ? t('reason.project_named', { name }) : t('reason.project_key', { key });
  if (kind === 'company') return name || key;
  if (kind === 'contact') return name || key;
  return key;
}

/**
 * The lead or project that capture chose: the entry's, unless the review
 * changed it — then the one the review reason says it was.
 */
function capturedRecord(entry, kind, rule, detail) {
  if (kind === 'lead' && rule === 'subject-number') return recordLabel(entry, 'lead', detail);
  if (rule === 'subject-name') {
    const found = allItems(entry, kind).find((i) => i.name === detail);
    if (found) return recordLabel(entry, kind, found.number || found.key);
  }
  const review = (entry.reasons || []).find((r) => r.field === kind && r.rule === 'review');
  if (review) {
    const m = /\(was (.*)\)$/.exec(review.detail || '');
    if (m) return recordLabel(entry, kind, m[1]);
  }
  const rec = entry[kind];
  if (rec) return recordLabel(entry, kind, rec.number || rec.key);
  return rule === 'subject-name' ? t(`reason.${kind}_quoted`, { name: detail }) : t(`reason.${kind}_word`);
}

const FORWARD_FORMATS = ['outlook', 'original-message', 'forward-header', 'header-block', 'attribution'];

/**
 * The conflict capture found and the entry still has (DESIGN rules 4 and 6):
 * the subject's lead or project belongs to another company than the contact
 * person's, which is the entry's. {kind, record, recordCompany, entryCompany}
 * (company keys), or null. Such an entry cannot be confirmed as it is.
 */
export function recordConflict(entry) {
  for (const r of entry.reasons || []) {
    if (r.field !== 'company' || r.rule !== 'conflict') continue;
    const m = /^(lead|project) (\S+) belongs to (\S+), the contact to (\S+)$/.exec(r.detail || '');
    if (!m) continue;
    const record = entry[m[1]];
    // Still so: the same record, and the entry still at the contact's company.
    if (!record || (record.number || record.key) !== m[2]) continue;
    if (!entry.company || entry.company.key !== m[4] || m[3] === m[4]) continue;
    return { kind: m[1], record, recordCompany: m[3], entryCompany: m[4] };
  }
  return null;
}

/**
 * Describes one reason: {icon, field, text, warn, edit}. companies: the
 * tenant's companies by key ({id, name}), for names the entry does not carry.
 */
export function describeReason(entry, reason, companies = null) {
  const { field, rule } = reason;
  const detail = reason.detail || '';
  let key = `reason.${field}.${rule}`;
  const vars = { detail };

  if (rule === 'review') {
    const m = /^(.*) \(was (.*)\)$/.exec(detail);
    if (field === 'contact') {
      const keys = detail === 'none' ? [] : detail.split(/,\s*/);
      vars.names = keys.length ? keys.map((k) => nameOf(entry, 'contact', k) || k).join(', ') : t('reason.none');
    } else {
      vars.now = recordLabel(entry, field, m ? m[1] : detail);
      vars.was = m ? recordLabel(entry, field, m[2]) : '';
      if (!m) key = `reason.${field}.review-new`;
    }
  } else if (field === 'contact') {
    vars.name = '';
    // Which contact person did this address choose? The one with this address is
    // not known here; show the address, and the name when only one contact.
    if (rule === 'ambiguous-address') {
      const m = /^(\S+) belongs to (\d+)/.exec(detail);
      vars.address = m ? m[1] : detail;
      vars.count = m ? m[2] : '';
    } else if (rule === 'message-scan' && !detail.includes('@')) {
      key = 'reason.contact.message-scan-several';
    } else if (rule === 'too-many-recipients') {
      const m = /first (\d+) of (\d+)/.exec(detail);
      vars.first = m ? m[1] : '';
      vars.total = m ? m[2] : '';
    }
  } else if (field === 'company') {
    if (rule === 'primary-contact') vars.name = nameOf(entry, 'contact', detail) || detail;
    else if (rule === 'lead') vars.record = recordLabel(entry, 'lead', detail);
    else if (rule === 'project') vars.record = recordLabel(entry, 'project', detail);
    else if (rule === 'conflict') {
      const m = /^(lead|project) (\S+) belongs to (\S+), the contact to (\S+)$/.exec(detail);
      if (m) {
        vars.record = recordLabel(entry, m[1], m[2]);
        vars.recordCompany = m[3];
        vars.contactCompany = m[4];
        const cands = allItems(entry, 'company');
        if (entry.company) cands.push(entry.company);
        const nm = (k) => (cands.find((c) => c.key === k) || (companies && companies.get(k)) || {}).name || k;
        vars.recordCompany = nm(m[3]);
        vars.contactCompany = nm(m[4]);
      } else {
        key = 'reason.company.conflict-plain';
      }
    }
  } else if (field === 'lead' || field === 'project') {
    vars.record = capturedRecord(entry, field, rule, detail);
  } else if (field === 'forwarded' && rule === 'inline-forward') {
    vars.format = FORWARD_FORMATS.includes(detail) ? t(`reason.format.${detail}`) : detail;
  }

  const text = has(key) ? t(key, vars) : t('reason.unknown', { field, rule, detail });
  return {
    icon: FIELD_ICONS[field] || 'info',
    field,
    text,
    warn: WARN.has(key.slice('reason.'.length)),
    edit: rule === 'review',
    minor: field === 'tenant' || field === 'user',
  };
}

/** Does the entry need a closer look (conflicts, several candidates)? */
export function needsAttention(entry) {
  const cands = entry.candidates || {};
  if (Object.values(cands).some((l) => l && l.length)) return true;
  return (entry.reasons || []).some((r) => describeReason(entry, r).warn);
}

/**
 * How complete the suggested assignment is, for the card's badge:
 * 'check' — something conflicts, has candidates, or company or contact
 * person is missing; 'no_record' — company and contact person are clear, no
 * lead or project (many mails are about the company only); 'ready' — all of
 * it is clear.
 */
export function assignmentState(entry) {
  if (needsAttention(entry) || recordConflict(entry)) return 'check';
  if (!entry.company || !(entry.contacts && entry.contacts.length)) return 'check';
  if (!entry.lead && !entry.project) return 'no_record';
  return 'ready';
}
